/** Every command, in the order `lively --help` lists them. */
import type { CliCommand } from "../core/define.ts";
import appApply from "./app-apply.ts";
import appAttach from "./app-attach.ts";
import appCreate from "./app-create.ts";
import appEvents from "./app-events.ts";
import appHistory from "./app-history.ts";
import appLogs from "./app-logs.ts";
import appRestart from "./app-restart.ts";
import appRm from "./app-rm.ts";
import appRollback from "./app-rollback.ts";
import appStart from "./app-start.ts";
import appStatus from "./app-status.ts";
import appStop from "./app-stop.ts";
import appUpgrade from "./app-upgrade.ts";
import call from "./call.ts";
import cat from "./cat.ts";
import config from "./config.ts";
import deploy from "./deploy.ts";
import diff from "./diff.ts";
import events from "./events.ts";
import gc from "./gc.ts";
import history from "./history.ts";
import kvBuckets from "./kv-buckets.ts";
import kvCreate from "./kv-create.ts";
import kvDel from "./kv-del.ts";
import kvDrop from "./kv-drop.ts";
import kvGet from "./kv-get.ts";
import kvLs from "./kv-ls.ts";
import kvPut from "./kv-put.ts";
import logs from "./logs.ts";
import ls from "./ls.ts";
import networkAllow from "./network-allow.ts";
import networkList from "./network-ls.ts";
import networkRemove from "./network-rm.ts";
import nodes from "./nodes.ts";
import promote from "./promote.ts";
import restore from "./restore.ts";
import rm from "./rm.ts";
import rollback from "./rollback.ts";
import routeAdd from "./route-add.ts";
import routeList from "./route-ls.ts";
import routeRemove from "./route-rm.ts";
import serve from "./serve.ts";
import serviceInstall from "./service-install.ts";
import status from "./status.ts";
import tag from "./tag.ts";
import { tokenCreate, tokenList, tokenRevoke } from "./token.ts";
import vars from "./vars.ts";
import varsRm from "./vars-rm.ts";
import varsSet from "./vars-set.ts";
import versions from "./versions.ts";

export const commands: CliCommand[] = [
  serve,
  serviceInstall,
  deploy,
  ls,
  versions,
  cat,
  diff,
  history,
  tag,
  promote,
  rollback,
  rm,
  restore,
  gc,
  // `vars` before its subcommands: `vars set` and `vars rm` hang off the `vars` command.
  vars,
  varsSet,
  varsRm,
  config,
  routeAdd,
  routeList,
  routeRemove,
  networkAllow,
  networkList,
  networkRemove,
  call,
  kvCreate,
  kvPut,
  kvGet,
  kvDel,
  kvLs,
  kvDrop,
  kvBuckets,
  nodes,
  status,
  logs,
  events,
  appCreate,
  appApply,
  appStart,
  appStop,
  appRestart,
  appRm,
  appUpgrade,
  appRollback,
  appHistory,
  appStatus,
  appLogs,
  appAttach,
  appEvents,
  tokenCreate,
  tokenList,
  tokenRevoke,
];
