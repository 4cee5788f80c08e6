" Reads `wanc check --format short` output into the quickfix list with the
" wan ftplugin's 'errorformat', for tests/editors.rs. Run headless with a .wan
" file as argument (so the ftplugin is loaded):
"
"   vim -N -u NONE -i NONE -es --cmd 'set rtp^=editors/vim' \
"       --cmd 'filetype plugin on' --cmd 'let g:input = "lines.txt"' \
"       --cmd 'let g:out = "qf.jsonl"' -S editors/vim/test/quickfix.vim FILE.wan
"
" With g:input the lines go through :cgetexpr; without it the script runs
" :make, that is the ftplugin's 'makeprg' (wanc must be on $PATH).
"
" Writes JSON Lines to g:out: first the buffer's options
"   {"filetype", "makeprg", "errorformat", "commentstring", "comments"}
" then one object per quickfix entry:
"   {"file", "lnum", "col", "type", "nr", "text", "valid"}

try
  let s:out = [json_encode({'filetype': &filetype, 'makeprg': &l:makeprg,
        \ 'errorformat': &l:errorformat, 'commentstring': &l:commentstring,
        \ 'comments': &l:comments})]
  if exists('g:input')
    " :make reads its output with the buffer's local 'errorformat', but
    " :cgetexpr always takes the global value: hand the local one over.
    let &g:errorformat = &l:errorformat
    cgetexpr readfile(g:input)
  else
    silent make!
  endif
  for s:e in getqflist()
    call add(s:out, json_encode({'file': bufname(s:e.bufnr), 'lnum': s:e.lnum,
          \ 'col': s:e.col, 'type': s:e.type, 'nr': s:e.nr, 'text': s:e.text,
          \ 'valid': s:e.valid}))
  endfor
  call writefile(s:out, g:out)
  qall!
catch
  " A failure must not look like an empty list.
  call writefile(['ERROR: ' . v:exception . ' at ' . v:throwpoint], g:out)
  cquit
endtry
