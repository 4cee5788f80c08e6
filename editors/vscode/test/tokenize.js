#!/usr/bin/env node
// Tokenizes .wan files with VS Code's own TextMate engine (vscode-textmate on
// the oniguruma wasm build VS Code ships), so the grammar is tested the way
// the editor runs it, not by a look-alike.
//
//   node tokenize.js FILE...
//
// Prints one JSON object per token and line (JSON Lines), in file order:
//   {"file":"a.wan","line":3,"col":5,"end":9,"scopes":["source.wan",…],"text":"lan"}
// `line` and `col` are 1-based, `end` is the column just past the token;
// columns count bytes, as Vim does, so both engines can be asked about the
// same position. Whitespace-only tokens are left out.
//
// The grammar is found the way VS Code finds it: through the `grammars`
// entry of ../package.json, so a broken manifest fails here too.

'use strict';

const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const EXTENSION = path.join(__dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(EXTENSION, 'package.json'), 'utf8'));
const contributed = manifest.contributes.grammars.find((g) => g.language === 'wan');
const GRAMMAR = path.join(EXTENSION, contributed.path);
const SCOPE = contributed.scopeName;

async function loadGrammar() {
    const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
    // Hand over exactly the file's bytes: a Buffer may sit inside a larger pool.
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const registry = new vsctm.Registry({
        onigLib: Promise.resolve({
            createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
            createOnigString: (text) => new oniguruma.OnigString(text),
        }),
        loadGrammar: async (scopeName) => scopeName === SCOPE
            ? vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR, 'utf8'), GRAMMAR)
            : null,
    });
    const grammar = await registry.loadGrammar(SCOPE);
    if (!grammar) throw new Error(`no grammar for ${SCOPE} in ${GRAMMAR}`);
    return grammar;
}

function tokenizeFile(grammar, file, out) {
    const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
    let state = vsctm.INITIAL;
    lines.forEach((text, i) => {
        const result = grammar.tokenizeLine(text, state);
        for (const t of result.tokens) {
            const piece = text.slice(t.startIndex, t.endIndex);
            if (piece.trim() === '') continue; // whitespace tells nothing
            const col = Buffer.byteLength(text.slice(0, t.startIndex)) + 1;
            out.push(JSON.stringify({
                file, line: i + 1, col, end: col + Buffer.byteLength(piece),
                scopes: t.scopes, text: piece,
            }));
        }
        state = result.ruleStack;
    });
}

async function main() {
    const files = process.argv.slice(2);
    if (files.length === 0) {
        console.error('usage: node tokenize.js FILE...');
        process.exit(2);
    }
    const grammar = await loadGrammar();
    const out = [];
    for (const file of files) tokenizeFile(grammar, file, out);
    process.stdout.write(out.join('\n') + '\n');
}

main().catch((e) => {
    console.error(e && e.stack || e);
    process.exit(1);
});
