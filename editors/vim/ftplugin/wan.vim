" Vim filetype plugin for wan router configurations (wanc).
if exists("b:did_ftplugin")
  finish
endif
let b:did_ftplugin = 1

" `#` comments to the end of the line; `gq` and `o` continue them.
setlocal comments=:# commentstring=#\ %s
setlocal formatoptions-=t formatoptions+=croql
" Identifiers may contain `-` (`ipsec-nat-t`, `isp-a`): one word for `w`, `*`.
setlocal iskeyword+=-

" `:make` checks the current file; wanc prints one line per diagnostic:
"   file:line:col: severity[CODE]: message
" %t takes the first letter of the severity (e, w or n: error, warning, note),
" %*[a-z] skips the rest of it, and %n keeps the code's number (E0003 -> 3).
" Lines that do not match (wanc's own `error: cannot read …`) stay in the
" list as plain text, so nothing is lost.
setlocal makeprg=wanc\ check\ --format\ short\ %
setlocal errorformat=%f:%l:%c:\ %t%*[a-z][%*[A-Z]%n]:\ %m

let b:undo_ftplugin = "setlocal comments< commentstring< formatoptions< iskeyword< makeprg< errorformat<"
