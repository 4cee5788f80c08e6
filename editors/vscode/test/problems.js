#!/usr/bin/env node
// Runs the `wanc` problem matcher from ../package.json over lines on stdin,
// with JavaScript's RegExp as VS Code does, and prints what VS Code would
// take from each matching line (JSON Lines):
//   {"input":…,"file":…,"line":5,"column":27,"severity":"error","code":"E0003","message":…}
// Lines that do not match print {"input":…,"match":false}.

'use strict';

const fs = require('fs');
const path = require('path');

const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
const matcher = manifest.contributes.problemMatchers.find((m) => m.name === 'wanc');
if (!matcher) {
    console.error('package.json contributes no problem matcher named "wanc"');
    process.exit(1);
}
const p = matcher.pattern;
const regexp = new RegExp(p.regexp);

const lines = fs.readFileSync(0, 'utf8').split(/\r?\n/).filter((l) => l !== '');
for (const input of lines) {
    const m = regexp.exec(input);
    if (!m) {
        console.log(JSON.stringify({ input, match: false }));
        continue;
    }
    console.log(JSON.stringify({
        input,
        file: m[p.file],
        line: Number(m[p.line]),
        column: Number(m[p.column]),
        severity: m[p.severity],
        code: m[p.code],
        message: m[p.message],
    }));
}
