-- Drives `wanc lsp` with Neovim's own LSP client (vim.lsp, Neovim 0.7),
-- headless. tests/lsp.rs writes the sources and starts
--   nvim --headless -u NONE -i NONE --cmd "let g:wanc = …" (g:dir, g:out) -S neovim.lua
-- Each step writes one JSON line to g:out: {"step": NAME, "result": …}
-- with what the server answered, as the client received it; the test reads
-- them. A failure writes {"step": "error", "message": …}; the last line is
-- {"step": "done"}.

local out = assert(io.open(vim.g.out, 'w'))
local function write(step, result)
  out:write(vim.fn.json_encode({ step = step, result = result }), '\n')
  out:flush()
end

-- Every publishDiagnostics as sent, by URI, besides Neovim's own handling.
local published = {}
local handlers = {
  ['textDocument/publishDiagnostics'] = function(err, result, ctx, config)
    published[result.uri] = result
    return vim.lsp.handlers['textDocument/publishDiagnostics'](err, result, ctx, config)
  end,
}

local function main()
  local client_id = vim.lsp.start_client({
    name = 'wanc',
    cmd = { vim.g.wanc, 'lsp' },
    root_dir = vim.g.dir,
    handlers = handlers,
  })
  assert(client_id, 'the client did not start')
  local client = vim.lsp.get_client_by_id(client_id)

  local function open(name)
    vim.cmd('edit ' .. vim.fn.fnameescape(vim.g.dir .. '/' .. name))
    local buf = vim.api.nvim_get_current_buf()
    vim.lsp.buf_attach_client(buf, client_id)
    return buf, vim.uri_from_bufnr(buf)
  end
  local function wait_published(uri)
    assert(vim.wait(10000, function() return published[uri] ~= nil end, 20), 'no diagnostics for ' .. uri)
    return published[uri]
  end
  -- The position of the n-th `text` on the first line containing `line`.
  local function at(buf, line, text, n)
    for i, l in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
      if l:find(line, 1, true) then
        local col = 0
        for _ = 1, (n or 1) do
          col = l:find(text, col + 1, true)
        end
        return { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = i - 1, character = col - 1 } }
      end
    end
    error('no line contains ' .. line)
  end
  local function request(method, params, buf)
    local response, err = client.request_sync(method, params, 10000, buf)
    assert(response, method .. ': ' .. tostring(err))
    return { result = response.result, err = response.err }
  end

  assert(vim.wait(10000, function() return client.initialized end, 20), 'the server did not initialize')

  -- A file with an error: its diagnostics, code and link included.
  local _, broken_uri = open('broken.wan')
  write('diagnostics', wait_published(broken_uri))

  -- The site, whose uplink isp1 is in lib.wan.
  local site, site_uri = open('site.wan')
  write('site diagnostics', wait_published(site_uri))
  write('hover rule', request('textDocument/hover', at(site, 'route from inside', 'route'), site))
  write('hover uplink', request('textDocument/hover', at(site, 'default via', 'isp2'), site))
  write('definition', request('textDocument/definition', at(site, 'default via', 'isp1'), site))
  write('references', request('textDocument/references',
    vim.tbl_extend('force', at(site, 'default via', 'isp1'), { context = { includeDeclaration = true } }), site))
  write('outline', request('textDocument/documentSymbol', { textDocument = { uri = site_uri } }, site))
  write('completion', request('textDocument/completion', at(site, 'default via', 'isp2'), site))
  write('rename taken', request('textDocument/rename',
    vim.tbl_extend('force', at(site, 'default via', 'isp1'), { newName = 'inside' }), site))

  -- Rename with the edits applied by Neovim, then what the buffers hold.
  local rename = request('textDocument/rename',
    vim.tbl_extend('force', at(site, 'default via', 'isp1'), { newName = 'fibre' }), site)
  write('rename', rename)
  vim.lsp.util.apply_workspace_edit(rename.result, 'utf-16')
  local lib = vim.fn.bufnr(vim.g.dir .. '/lib.wan')
  write('renamed', {
    site = vim.api.nvim_buf_get_lines(site, 0, -1, false),
    lib = vim.api.nvim_buf_get_lines(lib, 0, -1, false),
  })

  -- Formatting: the edits for the renamed text.
  write('formatting', request('textDocument/formatting',
    { textDocument = { uri = site_uri }, options = { tabSize = 4, insertSpaces = true } }, site))

  client.stop()
  vim.wait(5000, function() return client.is_stopped() end, 20)
end

local ok, message = xpcall(main, debug.traceback)
if not ok then
  write('error', message)
end
write('done', vim.NIL)
out:close()
vim.cmd('qall!')
