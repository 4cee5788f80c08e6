" Vim syntax file
" Language:   wan (router configurations compiled by wanc)
" Filenames:  *.wan
"
" Words in wan are contextual (`lan lan { }` is a lan named `lan`), so item
" keywords only count at the start of a statement, and the bodies of `when`,
" `via` and `check` are regions with their own, smaller vocabulary. Group
" names ending in "Keyword" are the keywords of grammar/wan.pest; the test
" in tests/editors.rs relies on that.

if exists("b:current_syntax")
  finish
endif
let s:cpo_save = &cpo
set cpo&vim

syn case match
" Identifiers may contain `-`; `.` makes `dns.example.net` one word, so the
" `dns` in it is never taken for a keyword.
syn iskeyword @,48-57,_,-,.
syn sync fromstart

" ---------------------------------------------------------------- literals
" Among matches starting at the same place the last defined wins, so the
" most specific literals come last.
syn match wanBadNumber   /\<\d\+\a[[:alnum:]_-]*/
syn match wanHostname    /\<[[:alnum:]][[:alnum:]_-]*\%(\.[[:alnum:]][[:alnum:]_-]*\)\+\.\=/
syn match wanInteger     /\<\d\+\%([[:alnum:]_.-]\)\@!/
syn match wanPortRange   /\<\d\+-\d\+\%([[:alnum:]_.-]\)\@!/
syn match wanPercent     /\<\d\+\%(\.\d\+\)\=%/
syn match wanDuration    /\<\d\+\%(ms\|[smhd]\)\%([[:alnum:]_-]\)\@!/
syn match wanAddress     /[[:alnum:]_.:-]\@1<!\d\+\%(\.\d\+\)\{3}\%([[:alnum:].]\)\@!/
syn match wanAddress     /[[:alnum:]_.:-]\@1<!\x*:\x*:[[:xdigit:]:.]*\%(%[[:alnum:]_.-]\+\)\=/ contains=wanZone
syn match wanZone        /%[[:alnum:]_.-]\+/ contained
syn match wanPrefix      /[[:alnum:]_.:-]\@1<!\%(\x*:\x*:[[:xdigit:]:.]*\|\d\+\%(\.\d\+\)\{3}\)\/\d\+/
syn cluster wanValue contains=wanBadNumber,wanHostname,wanInteger,wanPortRange,wanPercent,wanDuration,wanAddress,wanPrefix

" A string ends at its quote or, unterminated, at the end of the line;
" excludenl keeps that `$` from dragging a containing `check` onto the next.
syn region wanString start=/"/ excludenl end=/"\|$/ contains=wanEscape,wanBadEscape
syn match wanEscape    /\\[\\"n]/ contained
syn match wanBadEscape /\\\%([^\\"n]\|$\)/ contained

syn keyword wanTodo TODO FIXME XXX contained
syn match wanComment /#.*$/ contains=wanTodo,@Spell
" A backslash at the end of a line joins it with the next one.
syn match wanContinuation /\\$/

" ---------------------------------------------------------------- items
" An item keyword starts a statement; the word after it is the definition.
syn match wanItemKeyword /\%(^\|[;{]\)\s*\zs\<\%(site\|import\|policy\)\>/
syn match wanItemKeyword /\%(^\|[;{]\)\s*\zs\<lan\>/ nextgroup=wanLanDef skipwhite
syn match wanItemKeyword /\%(^\|[;{]\)\s*\zs\<uplink\>/ nextgroup=wanUplinkDef skipwhite
syn match wanItemKeyword /\%(^\|[;{]\)\s*\zs\<const\>/ nextgroup=wanConstDef skipwhite
syn match wanItemKeyword /\%(^\|[;{]\)\s*\zs\<host\>/ nextgroup=wanHostDef skipwhite
syn match wanItemKeyword /\%(^\|[;{]\)\s*\zs\<plugin\>/ nextgroup=wanPluginDef skipwhite
syn match wanItemKeyword /\%(^\|[;{]\)\s*\zs\<state\>/ nextgroup=wanStateDef skipwhite
syn match wanLanDef    /\h[[:alnum:]_-]*/ contained
syn match wanUplinkDef /\h[[:alnum:]_-]*/ contained
syn match wanConstDef  /\h[[:alnum:]_-]*/ contained
syn match wanHostDef   /\h[[:alnum:]_-]*/ contained
syn match wanPluginDef /\h[[:alnum:]_-]*/ contained
syn match wanStateDef  /\h[[:alnum:]_-]*/ contained

" ---------------------------------------------------------------- statements
syn keyword wanKeyword network address gateway dev auto nat to weight table healthy
syn keyword wanKeyword on run notify flush states default route from
syn keyword wanEventKeyword up down enter exit
" Interface names are bare words, validated by the checker.
syn keyword wanKeyword interface nextgroup=wanInterface skipwhite
syn match wanInterface /[^ \t;{}#,]\+/ contained
" After `proto`, `forward` and `serve` comes a protocol: `tcp` there is not
" the tcp check.
syn keyword wanKeyword proto forward serve nextgroup=wanProtocol skipwhite
syn keyword wanProtocol tcp udp icmp icmp6 gre esp contained
" After `port` comes a service name (src/check/services.rs), or a set of them.
syn keyword wanKeyword port nextgroup=wanService,wanPortSet skipwhite
syn region wanPortSet matchgroup=wanBrace start=/{/ end=/}/ contained contains=wanService,@wanValue,wanComment
syn keyword wanService ftp ssh telnet smtp domain http pop3 ntp imap snmp bgp ldap https smtps isakmp syslog contained
syn keyword wanService submission ldaps imaps pop3s openvpn mysql rdp ipsec-nat-t sip postgresql http-alt wireguard contained

" `check KIND target { option value … }`: the option block may span lines,
" and the check ends with its statement.
syn region wanCheck matchgroup=wanCheckKeyword start=/\<check\>/ end=/\ze[;}#]\|\\\@1<!$/ contains=wanProbeKeyword,wanCheckOptions,wanTcpPort,wanString,@wanValue,wanContinuation
syn match wanProbeKeyword /\%(\<check\s\+\)\@<=\%(ping\|tcp\|http\|dns\)\>/ contained
syn match wanProbeKeyword /\%(\<check\s\+\)\@<=plugin\>/ contained nextgroup=wanPluginRef skipwhite
syn match wanPluginRef /\h[[:alnum:]_-]*/ contained
" `host:port` of a tcp check.
syn match wanTcpPort /:\zs\h[[:alnum:]_-]*/ contained contains=wanService
syn region wanCheckOptions matchgroup=wanBrace start=/{/ end=/}/ contained contains=wanOption,wanString,@wanValue,wanComment,wanContinuation
" Options are `word value` or `word < value` pairs; any word may name one.
syn match wanOption /\<\h[[:alnum:]_-]*/ contained nextgroup=wanOptionLess,wanOptionWord skipwhite
syn match wanOptionLess /</ contained
syn match wanOptionWord /\h[[:alnum:]_-]*/ contained

" A state's condition or `healthy when`: names here are uplinks, not keywords.
syn region wanWhen matchgroup=wanWhenKeyword start=/\<when\>/ end=/\ze[{};#]\|\\\@1<!$/ contains=@wanExpr
syn cluster wanExpr contains=wanExprKeyword,wanOperator,wanExprParens,wanUplinkRef,wanInteger,wanPercent,wanContinuation
syn keyword wanExprKeyword any all count contained
syn match wanOperator /&&\|||\|[<>=!]=\|[<>!]/ contained
syn region wanExprParens matchgroup=wanParen start=/(/ end=/)/ contained contains=@wanExpr,wanComment
syn match wanUplinkRef /\h[[:alnum:]_-]*/ contained

" The uplinks a route leaves by: a list, `balance(…)` or `multipath(…)`.
syn region wanVia matchgroup=wanViaKeyword start=/\<via\>/ end=/\ze[};#]\|\\\@1<!$/ contains=wanViaKeyword,wanViaParens,wanUplinkRef,wanContinuation
syn keyword wanViaKeyword balance multipath stateless contained
syn region wanViaParens matchgroup=wanParen start=/(/ end=/)/ contained contains=wanUplinkRef,wanComment

" ---------------------------------------------------------------- colours
hi def link wanComment       Comment
hi def link wanTodo          Todo
hi def link wanString        String
hi def link wanEscape        SpecialChar
hi def link wanBadEscape     Error
hi def link wanContinuation  Special
hi def link wanBadNumber     Error
hi def link wanHostname      Constant
hi def link wanInteger       Number
hi def link wanPortRange     Number
hi def link wanPercent       Number
hi def link wanDuration      Number
hi def link wanAddress       Constant
hi def link wanZone          Special
hi def link wanPrefix        Constant
hi def link wanItemKeyword   Structure
hi def link wanKeyword       Keyword
hi def link wanEventKeyword  Label
hi def link wanCheckKeyword  Keyword
hi def link wanProbeKeyword     wanCheckKeyword
hi def link wanWhenKeyword   Conditional
hi def link wanExprKeyword   Operator
hi def link wanViaKeyword    Keyword
hi def link wanOperator      Operator
hi def link wanLanDef       wanDefinition
hi def link wanUplinkDef    wanDefinition
hi def link wanConstDef     wanDefinition
hi def link wanHostDef      wanDefinition
hi def link wanPluginDef    wanDefinition
hi def link wanStateDef     wanDefinition
hi def link wanDefinition    Function
hi def link wanInterface     Identifier
hi def link wanProtocol      Type
hi def link wanService       Type
hi def link wanOption        Identifier
hi def link wanOptionLess    Operator
hi def link wanUplinkRef     Identifier
hi def link wanPluginRef     Identifier

let b:current_syntax = "wan"
let &cpo = s:cpo_save
unlet s:cpo_save
