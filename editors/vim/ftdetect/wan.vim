" wan router configurations (wanc): *.wan files.
autocmd BufNewFile,BufRead *.wan setfiletype wan
