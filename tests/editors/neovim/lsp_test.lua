-- Neovim's built-in LSP client (Debian's neovim, 0.7 or later) driving `planner lsp` on a real
-- buffer: diagnostics, document symbols, go to definition (the cursor jumps), rename (the
-- buffer is edited through vim.lsp.buf.rename), hover, code lenses, a quick fix and the custom
-- request `stageplan/plan`.
--
-- Input: $STAGEPLAN_PLANNER (the planner binary) and $STAGEPLAN_DOCKERFILE (a scratch file
-- with the content of run.sh). Output: one line per check and a closing "N passed, N failed".
-- Invariant: exits 0 only when every check passed (`cquit` otherwise), and never waits more
-- than a few seconds for the server.
local planner = assert(os.getenv('STAGEPLAN_PLANNER'), 'set STAGEPLAN_PLANNER')
local dockerfile = assert(os.getenv('STAGEPLAN_DOCKERFILE'), 'set STAGEPLAN_DOCKERFILE')

local passed, failed = 0, 0
local function check(name, ok, detail)
  if ok then
    passed = passed + 1
    io.stdout:write('ok   ' .. name .. '\n')
  else
    failed = failed + 1
    io.stdout:write('FAIL ' .. name .. (detail and (': ' .. vim.inspect(detail)) or '') .. '\n')
  end
end

local function finish()
  io.stdout:write(string.format('neovim: %d passed, %d failed\n', passed, failed))
  io.stdout:flush()
  if failed > 0 then vim.cmd('cquit 1') else vim.cmd('qall!') end
end

local function run()
  vim.cmd('edit ' .. vim.fn.fnameescape(dockerfile))
  local bufnr = vim.api.nvim_get_current_buf()
  local client_id = vim.lsp.start_client({
    name = 'stageplan',
    cmd = { planner, 'lsp' },
    root_dir = vim.fn.fnamemodify(dockerfile, ':h'),
    init_options = { targets = { 'prod' } },
  })
  check('server started', client_id ~= nil)
  vim.lsp.buf_attach_client(bufnr, client_id)
  local client = vim.lsp.get_client_by_id(client_id)

  -- Diagnostics as published.
  vim.wait(5000, function() return #vim.diagnostic.get(bufnr) >= 2 end, 20)
  local diagnostics = vim.diagnostic.get(bufnr)
  table.sort(diagnostics, function(a, b) return a.lnum < b.lnum end)
  local codes = vim.tbl_map(function(d) return d.code end, diagnostics)
  check('diagnostics: StageNameCasing and JSONArgsRecommended',
    vim.deep_equal(codes, { 'StageNameCasing', 'JSONArgsRecommended' }), codes)
  check('diagnostic position and severity',
    diagnostics[1].lnum == 0 and diagnostics[1].col == 20 and diagnostics[1].severity == vim.diagnostic.severity.WARN,
    diagnostics[1])
  check('diagnostic links to the rule page',
    diagnostics[1].user_data and diagnostics[1].user_data.lsp.codeDescription.href ==
      'https://docs.docker.com/go/dockerfile/rule/stage-name-casing/', diagnostics[1].user_data)

  -- Document symbols.
  local params = { textDocument = vim.lsp.util.make_text_document_params(bufnr) }
  local response = vim.lsp.buf_request_sync(bufnr, 'textDocument/documentSymbol', params, 5000)
  local symbols = response and response[client_id] and response[client_id].result or {}
  local names = vim.tbl_map(function(s) return s.name .. ': ' .. s.detail end, symbols)
  check('document symbols', vim.deep_equal(names, {
    'build: FROM golang:1.22 · needed, wave 1',
    'test: FROM build · skipped',
    'prod: FROM alpine · needed, wave 2',
  }), names)

  -- Go to definition from `COPY --from=build` (line 6): the cursor jumps to `Build` on line 1.
  vim.api.nvim_win_set_cursor(0, { 6, 14 })
  vim.lsp.buf.definition()
  vim.wait(5000, function() return vim.api.nvim_win_get_cursor(0)[1] == 1 end, 20)
  local cursor = vim.api.nvim_win_get_cursor(0)
  check('definition jumps to the stage name', cursor[1] == 1 and cursor[2] == 20, cursor)

  -- Hover on the FROM base `build` (line 3).
  local hover = vim.lsp.buf_request_sync(bufnr, 'textDocument/hover', {
    textDocument = params.textDocument, position = { line = 2, character = 7 } }, 5000)
  local markdown = hover and hover[client_id] and hover[client_id].result and hover[client_id].result.contents.value or ''
  check('hover names the stage, its target and wave',
    markdown:find('stage `build`', 1, true) ~= nil and markdown:find('wave 1 of 2', 1, true) ~= nil, markdown)

  -- Code lenses.
  vim.lsp.codelens.refresh()
  vim.wait(5000, function() return #vim.lsp.codelens.get(bufnr) >= 6 end, 20)
  local titles = vim.tbl_map(function(l) return l.range.start.line .. ' ' .. l.command.title end,
    vim.lsp.codelens.get(bufnr))
  table.sort(titles)
  check('code lenses', vim.deep_equal(titles, {
    '0 builds 1 stage', '0 copy plan JSON', '2 builds 2 stages', '2 copy plan JSON',
    '4 builds 2 stages', '4 copy plan JSON' }), titles)

  -- "copy plan JSON" with the client-side command docs/editors.md gives (the server returns
  -- the JSON from workspace/executeCommand; Neovim puts it in a register).
  vim.lsp.commands['stageplan.copyPlanJson'] = function(command, ctx)
    local response = vim.lsp.get_client_by_id(ctx.client_id).request_sync(
      'workspace/executeCommand', command, 5000, ctx.bufnr)
    if response and response.result then vim.fn.setreg('a', response.result) end
  end
  local copy = vim.tbl_filter(function(l)
    return l.range.start.line == 4 and l.command.title == 'copy plan JSON'
  end, vim.lsp.codelens.get(bufnr))[1]
  vim.lsp.commands['stageplan.copyPlanJson'](copy.command, { client_id = client_id, bufnr = bufnr })
  local copied = vim.fn.json_decode(vim.fn.getreg('a'))
  check('copy plan JSON puts the plan in a register', copied.version == 1 and copied.targets[1] == 2, copied.targets)

  -- The custom request: plan JSON for another target.
  local plan = client.request_sync('stageplan/plan', {
    textDocument = params.textDocument, targets = { 'test' } }, 5000, bufnr)
  local result = plan and plan.result or {}
  check('stageplan/plan returns the plan for the requested target',
    result.plan and vim.deep_equal(result.plan.targets, { 1 }) and vim.deep_equal(result.plan.waves, { { 0 }, { 1 } }),
    result.plan and { targets = result.plan.targets, waves = result.plan.waves } or plan)

  -- A quick fix, applied to the buffer.
  local actions = vim.lsp.buf_request_sync(bufnr, 'textDocument/codeAction', {
    textDocument = params.textDocument,
    range = { start = { line = 7, character = 0 }, ['end'] = { line = 7, character = 0 } },
    context = { diagnostics = {} } }, 5000)
  local action = actions and actions[client_id] and actions[client_id].result and actions[client_id].result[1]
  check('quick fix offered', action ~= nil and action.kind == 'quickfix', action)
  if action then
    vim.lsp.util.apply_workspace_edit(action.edit, 'utf-16')
    check('quick fix applied', vim.api.nvim_buf_get_lines(bufnr, 7, 8, false)[1] == 'CMD ["/app"]',
      vim.api.nvim_buf_get_lines(bufnr, 7, 8, false))
  end

  -- Rename from the stage name through Neovim's rename (prepareRename, rename, apply).
  vim.api.nvim_win_set_cursor(0, { 1, 21 })
  vim.lsp.buf.rename('compile')
  vim.wait(5000, function() return vim.api.nvim_buf_get_lines(bufnr, 0, 1, false)[1]:find('compile') ~= nil end, 20)
  local lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  check('rename updates AS, FROM and --from=, not the index', lines[1] == 'FROM golang:1.22 AS compile'
    and lines[3] == 'FROM compile AS test' and lines[6] == 'COPY --from=compile /app /app'
    and lines[7] == 'COPY --from=0 /x /x', lines)

  -- The edited buffer is re-checked: the casing warning is gone with the new name.
  vim.wait(5000, function()
    return #vim.tbl_filter(function(d) return d.code == 'StageNameCasing' end, vim.diagnostic.get(bufnr)) == 0
  end, 20)
  local after = vim.tbl_map(function(d) return d.code end, vim.diagnostic.get(bufnr))
  check('diagnostics follow the edits', #after == 0, after)

  client.stop()
  vim.wait(5000, function() return client.is_stopped() end, 20)
  check('server stopped', client.is_stopped())
end

local ok, err = xpcall(run, debug.traceback)
check('script ran to the end', ok, err)
finish()
