// The wan extension's only code: it starts `wanc lsp`, the language server
// (diagnostics as you type, hover, go to definition, references,
// completion, rename), for every .wan file, through Microsoft's
// vscode-languageclient. The setting `wan.server.path` names the wanc
// binary when it is not `wanc` on the PATH. docs/lsp.md says more.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate() {
  const command = vscode.workspace.getConfiguration('wan').get('server.path') || 'wanc';
  const server = { command, args: ['lsp'] };
  client = new LanguageClient('wanc', 'wanc lsp', { run: server, debug: server }, {
    documentSelector: [{ scheme: 'file', language: 'wan' }],
  });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
