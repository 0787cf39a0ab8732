#!/usr/bin/env node
/* global process */
// A stand-in exec credential plugin (client.authentication.k8s.io/v1). It refuses to run without
// KUBERNETES_EXEC_INFO (as real plugins may), counts its runs in $SCO_EXEC_PLUGIN_STATE, and prints a token made of
// GREETING (from the kubeconfig's exec.env), its first argument, the run number and the server it was given.
import { readFileSync, writeFileSync } from 'node:fs';

const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO ?? 'null');
if (!info || info.kind !== 'ExecCredential' || info.spec?.interactive !== false) process.exit(3);
let run = 1;
const state = process.env.SCO_EXEC_PLUGIN_STATE;
if (state) {
  try {
    run = Number(readFileSync(state, 'utf8')) + 1;
  } catch {
    run = 1;
  }
  writeFileSync(state, String(run));
}
const server = info.spec.cluster?.server ?? 'no-cluster-info';
process.stdout.write(
  JSON.stringify({
    apiVersion: info.apiVersion,
    kind: 'ExecCredential',
    status: {
      token: `${process.env.GREETING}-${process.argv[2]}-${run}@${server}`,
      expirationTimestamp: new Date(Date.now() + 3600_000).toISOString(),
    },
  }),
);
