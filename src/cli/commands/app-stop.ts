/** `lively app stop [-k|--kill] NAME…|--all`: stop appliances (and keep them stopped), dependents first. */
import { appVerbCommand } from "../core/app-verb.ts";

export default appVerbCommand("stop", "stop appliances (SIGTERM to the group, SIGKILL after the grace period, then the sweep)");
