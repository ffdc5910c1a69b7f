import Purser
/// The HTML report's stylesheet, inlined into the page (system fonts only, no external resources).
package enum AuditHTMLStyle {
    package static let css = """
        :root { --ink: #1f2933; --muted: #616e7c; --line: #d9dee4; --panel: #ffffff; --page: #f4f6f8;
          --accent: #2563eb; --deny: #c62828; --warn: #b26a00; --waived: #5e6b78; --ok: #2e7d32; }
        * { box-sizing: border-box; }
        body { margin: 0; background: var(--page); color: var(--ink);
          font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
        header { background: #16212e; color: #f5f7fa; padding: 22px 32px 18px; }
        header h1 { margin: 0 0 10px; font-size: 22px; font-weight: 650; }
        header dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 0; font-size: 13px; }
        header dt { color: #aab6c3; }
        header dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
        main { max-width: 1360px; margin: 0 auto; padding: 8px 32px 40px; }
        h2 { font-size: 17px; margin: 28px 0 10px; }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 12px; }
        .card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
        .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
        .card .value { font-size: 22px; font-weight: 650; margin: 2px 0; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
        .card .value .extra { font-size: 14px; font-weight: 500; color: var(--muted); }
        .card .detail { color: var(--muted); font-size: 12.5px; }
        .card.bad .value { color: var(--deny); }
        .card.good .value { color: var(--ok); }
        .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(400px, 1fr)); gap: 12px; }
        .pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 12px; }
        figure { margin: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
        figcaption { font-size: 13px; margin-bottom: 4px; }
        figcaption strong { font-size: 14px; }
        figcaption .note { color: var(--muted); display: block; }
        svg.chart { width: 100%; height: auto; display: block; }
        svg .grid { stroke: #e6e9ed; stroke-width: 1; }
        svg .baseline, svg .tick { stroke: #9aa5b1; stroke-width: 1; }
        svg .month { stroke: #9aa5b1; stroke-dasharray: 2 3; }
        svg .axis { fill: var(--muted); font-size: 11px; }
        svg .spend { fill: none; stroke: var(--accent); stroke-width: 2.2; stroke-linejoin: round; }
        svg .spend-dot { fill: var(--accent); }
        svg .cap { stroke: var(--deny); stroke-width: 1.5; stroke-dasharray: 6 4; }
        svg .cap-label { fill: var(--deny); font-size: 11px; font-weight: 600; }
        svg .crossed { fill: var(--deny); stroke: #fff; stroke-width: 1.5; }
        svg .crossed-label { fill: var(--deny); font-size: 11px; font-weight: 600; }
        svg .label { fill: var(--ink); font-size: 12px; }
        svg .value { fill: var(--muted); font-size: 11.5px; }
        svg .bar { fill: var(--accent); }
        .kind-budget { fill: #d97706; background: #d97706; } .kind-access { fill: #2563eb; background: #2563eb; }
        .kind-region { fill: #0d9488; background: #0d9488; } .kind-cost { fill: #db2777; background: #db2777; }
        .kind-rule { fill: #7c3aed; background: #7c3aed; } .kind-unknown { fill: #64748b; background: #64748b; }
        .kind-system { fill: #111827; background: #111827; }
        .legend { font-size: 12px; color: var(--muted); margin-top: 6px; }
        .legend span { display: inline-block; margin-right: 12px; }
        .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
        .legend .line { width: 16px; height: 0; border-top: 2.5px solid var(--accent); border-radius: 0; vertical-align: 3px; }
        .legend .dash { width: 16px; height: 0; border-top: 2px dashed var(--deny); border-radius: 0; vertical-align: 3px; }
        .legend .dot { background: var(--deny); border-radius: 50%; }
        .table-wrap { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; }
        table { border-collapse: collapse; width: 100%; font-size: 13px; }
        caption { text-align: left; padding: 10px 12px 6px; font-weight: 600; }
        caption .note { font-weight: 400; color: var(--muted); }
        th, td { padding: 5px 8px; border-top: 1px solid #edf0f3; text-align: left; vertical-align: top; }
        th { background: #f7f9fb; font-weight: 600; color: #3e4c59; white-space: nowrap; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; white-space: nowrap; }
        td.msg { min-width: 200px; }
        td.name { white-space: nowrap; }
        td.path { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; overflow-wrap: anywhere; min-width: 140px; }
        .badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600; color: #fff; }
        .badge.deny { background: var(--deny); } .badge.warn { background: var(--warn); }
        .badge.waived { background: var(--waived); } .badge.rerouted { background: var(--accent); }
        .badge.hard { background: var(--deny); } .badge.soft { background: var(--warn); }
        .totals { display: grid; grid-template-columns: repeat(auto-fit, minmax(620px, 1fr)); gap: 12px; }
        p.more { color: var(--muted); margin: 8px 2px; }
        p.empty { color: var(--muted); margin: 4px 2px; }
        footer { color: var(--muted); font-size: 12px; text-align: center; padding: 16px; }
        """
}
