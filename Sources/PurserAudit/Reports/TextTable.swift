import Purser
/// A plain-text table with aligned columns that fits a width: its last columns can move to a
/// wrapped line under each row, and flexible columns are narrowed (cut with `…`).
package struct TextTable {
    /// A column: its heading, alignment, and whether it gives up width first.
    package struct Column {
        package let title: String
        package var rightAligned = false
        package var flexible = false
        /// The narrowest a flexible column gets before the table overflows instead.
        package var minimum = 12
        /// Right-aligned amounts with their decimal points lined up.
        package var decimal = false
        /// Cut from the front (`…/usage.jsonl:12`): for paths, whose end matters most.
        package var keepEnd = false
    }

    package let columns: [Column]
    /// How many trailing columns move under their row, joined by ` · ` and wrapped, when the table is too wide.
    package let spill: Int
    package private(set) var rows: [[String]] = []

    package init(_ columns: [Column], spill: Int = 0) {
        self.columns = columns
        self.spill = min(spill, columns.count - 1)
    }

    /// Adds a row; cells are made one-line and safe for a terminal.
    package mutating func add(_ cells: [String]) {
        rows.append(cells.map(ReportText.oneLine))
    }

    /// The table, indented by `indent` spaces, each line at most `width` columns when it can be.
    package func render(width: Int, indent: Int = 2) -> String {
        let longest = columns.indices.map { index in
            columns[index].decimal ? self.rows.map { index < $0.count ? fraction($0[index]) : 0 }.max() ?? 0 : 0
        }
        let rows = self.rows.map { alignDecimals($0, longest) }
        let natural = widths(columns, rows)
        let spilled = spill > 0 && indent + natural.reduce(0, +) + 2 * (columns.count - 1) > width
        let shown = spilled ? Array(columns.dropLast(spill)) : columns
        var widths = spilled ? Array(natural.dropLast(spill)) : natural
        var excess = indent + widths.reduce(0, +) + 2 * (shown.count - 1) - width
        // Narrow the flexible columns, widest first, down to their minimum.
        for index in shown.indices.filter({ shown[$0].flexible }).sorted(by: { widths[$0] > widths[$1] }) where excess > 0 {
            let floor = max(shown[index].minimum, shown[index].title.count)
            let cut = min(excess, max(0, widths[index] - floor))
            widths[index] -= cut
            excess -= cut
        }
        let pad = String(repeating: " ", count: indent)
        var out = pad + line(shown, shown.map(\.title), widths) + "\n"
        if spilled { out += pad + "    " + columns.suffix(spill).map(\.title).joined(separator: " · ") + "\n" }
        out += pad + line(shown, widths.map { String(repeating: "-", count: $0) }, widths) + "\n"
        for row in rows {
            out += pad + line(shown, row, widths) + "\n"
            if spilled {
                let detail = row.suffix(spill).filter { !$0.isEmpty }.joined(separator: " · ")
                for part in wrap(detail, max(20, width - indent - 4), lines: 3) { out += pad + "    " + part + "\n" }
            }
        }
        return out
    }

    /// The widest cell of each column, headings included.
    private func widths(_ columns: [Column], _ rows: [[String]]) -> [Int] {
        var widths = columns.map { $0.title.count }
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        return widths
    }

    /// Pads the decimal columns' cells on the right so their decimal points line up.
    private func alignDecimals(_ row: [String], _ longest: [Int]) -> [String] {
        var row = row
        for index in row.indices where index < longest.count && longest[index] > 0 {
            row[index] += String(repeating: " ", count: longest[index] - fraction(row[index]))
        }
        return row
    }

    /// The length of a cell's `.fraction` part (0 without one).
    private func fraction(_ cell: String) -> Int {
        guard let dot = cell.lastIndex(of: ".") else { return 0 }
        return cell.distance(from: dot, to: cell.endIndex)
    }

    /// Greedy word wrap to `width`, at most `lines` lines (the last cut with `…`).
    private func wrap(_ text: String, _ width: Int, lines: Int) -> [String] {
        var out: [String] = []
        var current = ""
        for word in text.split(separator: " ") {
            if current.isEmpty { current = String(word) } else if current.count + 1 + word.count <= width { current += " " + word } else {
                out.append(current)
                current = String(word)
            }
        }
        if !current.isEmpty { out.append(current) }
        if out.count > lines {
            out = Array(out.prefix(lines))
            out[lines - 1] = fit(out[lines - 1], width - 2) + " …"
        }
        return out.map { fit($0, width) }
    }

    /// One line of cells, padded to the widths.
    private func line(_ columns: [Column], _ cells: [String], _ widths: [Int]) -> String {
        var parts: [String] = []
        for (index, column) in columns.enumerated() {
            let cell = fit(index < cells.count ? cells[index] : "", widths[index], keepEnd: column.keepEnd)
            let fill = String(repeating: " ", count: widths[index] - cell.count)
            parts.append(column.rightAligned ? fill + cell : cell + fill)
        }
        // No trailing spaces.
        var text = parts.joined(separator: "  ")
        while text.last == " " { text.removeLast() }
        return text
    }

    /// Cuts a cell to a width, marking the cut with `…` (at the front with `keepEnd`).
    private func fit(_ cell: String, _ width: Int, keepEnd: Bool = false) -> String {
        guard cell.count > width else { return cell }
        guard width > 1 else { return String(cell.prefix(width)) }
        return keepEnd ? "…" + String(cell.suffix(width - 1)) : String(cell.prefix(width - 1)) + "…"
    }
}

/// A block of `label  value` lines with the labels aligned.
package struct TextFields {
    package private(set) var entries: [(String, String)] = []

    /// Adds a field.
    package mutating func add(_ label: String, _ value: String) {
        entries.append((label, ReportText.oneLine(value)))
    }

    /// The fields, one per line.
    package func render(indent: Int = 2) -> String {
        let width = entries.map { $0.0.count }.max() ?? 0
        let pad = String(repeating: " ", count: indent)
        return entries.map { pad + $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 + "\n" }.joined()
    }
}
