// Runs the extension's activate() with VS Code and vscode-languageclient
// stood in for (neither runs outside VS Code), and prints, as one JSON
// line, the language client it made: what the extension asks VS Code to
// start, for which documents. tests/editors.rs checks it starts `wanc lsp`.
'use strict';

const Module = require('module');
const path = require('path');

const made = [];
const stubs = {
  vscode: {
    workspace: { getConfiguration: (section) => ({ get: (key) => (section === 'wan' ? process.env.WAN_SERVER_PATH : undefined) }) },
  },
  'vscode-languageclient/node': {
    LanguageClient: class {
      constructor(id, name, serverOptions, clientOptions) {
        made.push({ id, name, serverOptions, clientOptions, started: false });
      }
      start() { made[made.length - 1].started = true; return Promise.resolve(); }
      stop() { return Promise.resolve(); }
    },
  },
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return Object.prototype.hasOwnProperty.call(stubs, request) ? stubs[request] : load.call(this, request, ...rest);
};

const extension = require(path.join(__dirname, '..', require('../package.json').main));
Promise.resolve(extension.activate({ subscriptions: [] })).then(() => {
  console.log(JSON.stringify(made));
  return extension.deactivate();
});
