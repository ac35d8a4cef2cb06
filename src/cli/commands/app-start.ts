/** `lively app start NAME…|--all`: start appliances (and keep them started), dependencies first. */
import { appVerbCommand } from "../core/app-verb.ts";

export default appVerbCommand("start", "start appliances, dependencies first");
