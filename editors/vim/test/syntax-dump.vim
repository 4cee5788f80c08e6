" Dumps the syntax highlighting Vim computes for each file in the argument
" list, for tests/editors.rs. Run headless:
"
"   vim -N -u NONE -i NONE -es --cmd 'set rtp^=editors/vim' \
"       --cmd 'filetype plugin on' --cmd 'syntax on' \
"       --cmd 'let g:out = "dump.jsonl"' -S editors/vim/test/syntax-dump.vim FILE...
"
" Writes JSON Lines to g:out: first {"file", "filetype", "errmsg"} for each
" file (errmsg is the last error Vim met loading it, "" when none), then
" one object per run of characters with the same syntax item:
"   {"file", "line", "col", "end", "text", "group", "link"}
" `group` is synIDattr(synID(line, col, 1), "name"), `link` the highlight
" group it resolves to; `col` is 1-based and `end` is just past the run.

function! s:Dump(out) abort
  call add(a:out, json_encode({'file': expand('%'), 'filetype': &filetype,
        \ 'errmsg': v:errmsg}))
  for lnum in range(1, line('$'))
    let text = getline(lnum)
    let col = 1
    while col <= len(text)
      let id = synID(lnum, col, 1)
      let start = col
      while col <= len(text) && synID(lnum, col, 1) == id
        let col += 1
      endwhile
      let piece = text[start - 1 : col - 2]
      if piece =~ '\S'
        call add(a:out, json_encode({'file': expand('%'), 'line': lnum, 'col': start,
              \ 'end': col, 'text': piece, 'group': synIDattr(id, 'name'),
              \ 'link': synIDattr(synIDtrans(id), 'name')}))
      endif
    endwhile
  endfor
endfunction

try
  let s:out = []
  for s:file in argv()
    let v:errmsg = ''
    execute 'edit' fnameescape(s:file)
    call s:Dump(s:out)
  endfor
  call writefile(s:out, g:out)
  qall!
catch
  " A failure must not look like an empty dump.
  call writefile(['ERROR: ' . v:exception . ' at ' . v:throwpoint], g:out)
  cquit
endtry
