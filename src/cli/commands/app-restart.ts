/** `lively app restart NAME…|--all`: a manual restart (counts nothing towards backoff); dependents restart after them. */
import { appVerbCommand } from "../core/app-verb.ts";

export default appVerbCommand("restart", "restart appliances (their dependents restart after them)");
