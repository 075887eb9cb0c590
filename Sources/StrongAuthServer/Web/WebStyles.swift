/// The one stylesheet of the web pages (`/admin/assets/app.css`): plain CSS, system fonts,
/// WCAG AA contrast, visible focus, a single column on narrow screens.
enum WebStyles {
    static let css = """
        :root { --ink: #1b1f24; --muted: #4d5560; --line: #c9ced6; --bg: #f6f7f9; --card: #ffffff;
          --accent: #0b5cad; --accent-ink: #ffffff; --danger: #a4161a; --ok: #1e6b34; --warn: #7a4b00; }
        * { box-sizing: border-box; }
        html { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: var(--bg); }
        body { margin: 0; }
        a { color: var(--accent); }
        a:focus, button:focus, input:focus, select:focus { outline: 3px solid #f2a900; outline-offset: 2px; }
        .skip { position: absolute; left: -999px; top: 0; background: var(--card); padding: .5rem 1rem; }
        .skip:focus { left: 1rem; z-index: 10; }
        header.top { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; padding: .75rem 1.25rem; background: #102a43; color: #fff; }
        header.top a { color: #fff; }
        .brand { font-weight: 700; font-size: 1.1rem; margin-right: 1rem; }
        nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem 1rem; margin: 0; padding: 0; }
        nav a { text-decoration: none; padding: .25rem 0; border-bottom: 2px solid transparent; }
        nav a[aria-current="page"], nav a:hover { border-bottom-color: #fff; }
        form.logout { margin-left: auto; display: flex; gap: .5rem; align-items: center; }
        main { max-width: 72rem; margin: 0 auto; padding: 1.25rem; }
        h1 { font-size: 1.6rem; margin: .25rem 0 1rem; }
        h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 1rem 1.25rem; margin-bottom: 1rem; }
        .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr)); gap: 1rem; }
        .stat { font-size: 1.8rem; font-weight: 700; display: block; }
        table { width: 100%; border-collapse: collapse; background: var(--card); }
        th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { background: #e9edf2; font-weight: 600; }
        .table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; margin-bottom: 1rem; }
        code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; word-break: break-all; }
        label { display: block; font-weight: 600; margin: .5rem 0 .25rem; }
        input[type=text], input[type=password], input[type=search], select { width: 100%; max-width: 24rem; padding: .5rem; font: inherit; border: 1px solid #767f8a; border-radius: 4px; background: #fff; color: var(--ink); }
        button { font: inherit; padding: .45rem .9rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-ink); cursor: pointer; }
        button.secondary { background: #fff; color: var(--accent); }
        button.danger { background: var(--danger); border-color: var(--danger); }
        .inline { display: inline-flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin: .25rem .5rem .25rem 0; }
        .inline label { margin: 0; }
        .status { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .85rem; font-weight: 700; border: 1px solid currentColor; }
        .status-ACTIVE, .status-APPROVED, .status-delivered, .status-success { color: var(--ok); }
        .status-BLOCKED, .status-REJECTED, .status-FAILED, .status-dead, .status-failure { color: var(--danger); }
        .status-CREATED, .status-PENDING_COMMIT, .status-PENDING, .status-pending { color: var(--warn); }
        .status-REMOVED, .status-CANCELED, .status-EXPIRED { color: var(--muted); }
        .flash { background: #e3f2e7; border: 1px solid var(--ok); padding: .6rem 1rem; border-radius: 4px; }
        .error { background: #fbe9ea; border: 1px solid var(--danger); padding: .6rem 1rem; border-radius: 4px; }
        .muted { color: var(--muted); }
        figure.qr { margin: 0; display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: center; }
        figure.qr img { width: 264px; height: 264px; image-rendering: pixelated; background: #fff; border: 1px solid var(--line); }
        .code { font-size: 1.4rem; letter-spacing: .05em; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
        dl.facts dt { font-weight: 600; }
        dl.facts dd { margin: 0; }
        ol.timeline { list-style: none; padding: 0; margin: 0; border-left: 3px solid var(--line); }
        ol.timeline li { padding: .25rem 0 .5rem 1rem; }
        footer { text-align: center; color: var(--muted); font-size: .85rem; padding: 2rem 1rem; }
        @media (max-width: 40rem) { main { padding: .75rem; } form.logout { margin-left: 0; } th, td { padding: .35rem; } }
        """
}
