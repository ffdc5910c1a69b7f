import Purser
/// Inline SVG charts for the HTML report, drawn in Swift (no scripts, no external resources).
///
/// Coordinates are computed in floating point; that is drawing, not money: every amount a
/// chart prints (axis ticks, titles) is exact text from `ReportText`.
package enum AuditCharts {
    /// One bar of a bar chart.
    package struct Bar {
        package let label: String
        package let value: Int
        /// The bar's tooltip (an SVG `<title>`).
        package let detail: String
        /// A CSS class for its colour.
        package var style = "bar"
    }

    /// Where a team first went over its monthly cap in a month.
    package struct Crossing {
        package let day: CivilDate
        package let spent: USD
    }

    /// Every calendar day from the first to the last day of any series.
    package static func days(_ series: [SpendSeries]) -> [CivilDate] {
        let all = series.flatMap { $0.days.compactMap { CivilDate($0.day) } }
        guard let first = all.min(), let last = all.max() else { return [] }
        return (first.days...last.days).map { CivilDate(days: $0) }
    }

    /// Cumulative spend within each month, per day of `days` (held at ``USD/max`` for plotting).
    package static func cumulative(_ series: SpendSeries, days: [CivilDate]) -> [USD] {
        var spend: [String: USDTotal] = [:]
        for entry in series.days { spend[entry.day, default: .zero] += entry.spend }
        var out: [USD] = []
        var total = USDTotal.zero
        for (index, day) in days.enumerated() {
            if index > 0 && (day.year, day.month) != (days[index - 1].year, days[index - 1].month) { total = .zero }
            total += spend[day.description] ?? .zero
            out.append(total.clamped)
        }
        return out
    }

    /// The first day of each month on which cumulative spend went over the cap.
    package static func crossings(_ series: SpendSeries, days: [CivilDate]) -> [Crossing] {
        guard let cap = series.monthlyCap else { return [] }
        let totals = cumulative(series, days: days)
        var out: [Crossing] = []
        var month: (Int, Int)?
        for (index, day) in days.enumerated() where totals[index] > cap {
            if let month, month == (day.year, day.month) { continue }
            month = (day.year, day.month)
            out.append(Crossing(day: day, spent: totals[index]))
        }
        return out
    }

    /// A round axis step (1, 2 or 5 × 10^k nano-USD) giving at most `ticks` steps up to `maximum`.
    package static func step(for maximum: Int64, ticks: Int64 = 4) -> Int64 {
        var power: Int64 = 1
        while true {
            for multiple: Int64 in [1, 2, 5] {
                let (step, overflow) = power.multipliedReportingOverflow(by: multiple)
                if overflow { return Int64.max / 2 }
                if maximum / step + (maximum % step == 0 ? 0 : 1) <= ticks { return step }
            }
            let (next, overflow) = power.multipliedReportingOverflow(by: 10)
            if overflow { return Int64.max / 2 }
            power = next
        }
    }

    /// A short exact axis label: `$0`, `$250`, `$2.5k`, `$30k`, `$0.05`.
    package static func axisLabel(_ nanos: Int64) -> String {
        let dollars = nanos / USD.scale
        if nanos % USD.scale == 0 && dollars >= 1000 && dollars % 100 == 0 {
            return "$" + DecimalText.format(Int128(dollars / 100), scale: 1) + "k"
        }
        return "$" + USD(nanos: nanos).description
    }

    /// A line chart of a team's cumulative spend per month against its monthly cap.
    package static func capChart(_ series: SpendSeries, days: [CivilDate], id: String) -> String {
        let width = 420.0, height = 210.0, left = 52.0, right = 14.0, top = 14.0, bottom = 30.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let totals = cumulative(series, days: days)
        let cap = series.monthlyCap
        let highest = max(totals.map(\.nanos).max() ?? 0, cap?.nanos ?? 0, USD.scale)
        let step = step(for: highest)
        let axisTop = (highest / step + (highest % step == 0 ? 0 : 1)) * step
        func x(_ index: Int) -> Double {
            days.count > 1 ? left + plotWidth * Double(index) / Double(days.count - 1) : left + plotWidth / 2
        }
        func y(_ nanos: Int64) -> Double { top + plotHeight * (1 - Double(nanos) / Double(axisTop)) }
        let c = HTMLText.coordinate
        let team = HTMLText.escape(series.team)
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(c(width)) \(c(height))\" role=\"img\" aria-labelledby=\"\(id)-t \(id)-d\">"
        svg += "<title id=\"\(id)-t\">\(team): cumulative spend per month"
            + (cap.map { " against the monthly cap of \(ReportText.money($0))" } ?? " (no monthly cap)") + "</title>"
        let last = totals.last.map(ReportText.money) ?? "$0.00"
        svg += "<desc id=\"\(id)-d\">Spend by the last day: \(last). "
        let crossed = crossings(series, days: days)
        svg += crossed.isEmpty ? "The cap was not crossed." : crossed.map { "Crossed on \($0.day) at \(ReportText.money($0.spent))." }.joined(separator: " ")
        svg += "</desc>"
        // Grid and y axis.
        var tick: Int64 = 0
        while tick <= axisTop {
            let ty = y(tick)
            svg += "<line class=\"grid\" x1=\"\(c(left))\" x2=\"\(c(width - right))\" y1=\"\(c(ty))\" y2=\"\(c(ty))\"/>"
            svg += "<text class=\"axis\" x=\"\(c(left - 6))\" y=\"\(c(ty + 4))\" text-anchor=\"end\">\(axisLabel(tick))</text>"
            tick += step
        }
        // X axis: the 1st, 8th, 15th, 22nd and 29th of each month.
        for (index, day) in days.enumerated() where day.day % 7 == 1 {
            let label = day.day == 1 ? monthName(day.month) + " 1" : String(day.day)
            svg += "<line class=\"tick\" x1=\"\(c(x(index)))\" x2=\"\(c(x(index)))\" y1=\"\(c(height - bottom))\" y2=\"\(c(height - bottom + 4))\"/>"
            svg += "<text class=\"axis\" x=\"\(c(x(index)))\" y=\"\(c(height - bottom + 16))\" text-anchor=\"middle\">\(label)</text>"
            if day.day == 1 && index > 0 {
                svg += "<line class=\"month\" x1=\"\(c(x(index)))\" x2=\"\(c(x(index)))\" y1=\"\(c(top))\" y2=\"\(c(height - bottom))\"/>"
            }
        }
        svg += "<line class=\"baseline\" x1=\"\(c(left))\" x2=\"\(c(width - right))\" y1=\"\(c(height - bottom))\" y2=\"\(c(height - bottom))\"/>"
        // The spend line, broken at each month start.
        var segment: [String] = []
        func draw() {
            if segment.count > 1 { svg += "<polyline class=\"spend\" points=\"\(segment.joined(separator: " "))\"/>" }
            segment = []
        }
        for (index, total) in totals.enumerated() {
            if index > 0 && days[index].day == 1 { draw() }
            segment.append("\(c(x(index))),\(c(y(total.nanos)))")
            if days.count == 1 { svg += "<circle class=\"spend-dot\" cx=\"\(c(x(index)))\" cy=\"\(c(y(total.nanos)))\" r=\"3\"/>" }
        }
        draw()
        if let cap {
            let cy = y(cap.nanos)
            svg += "<line class=\"cap\" x1=\"\(c(left))\" x2=\"\(c(width - right))\" y1=\"\(c(cy))\" y2=\"\(c(cy))\">"
                + "<title>Monthly cap: \(ReportText.money(cap))</title></line>"
            svg += "<text class=\"cap-label\" x=\"\(c(left + 4))\" y=\"\(c(cy - 5))\">cap \(axisLabel(cap.nanos))</text>"
        }
        for crossing in crossed {
            guard let index = days.firstIndex(of: crossing.day) else { continue }
            let cx = x(index), cy = y(crossing.spent.nanos)
            svg += "<circle class=\"crossed\" cx=\"\(c(cx))\" cy=\"\(c(cy))\" r=\"5\"><title>Went over the cap on \(crossing.day): "
                + "\(ReportText.money(crossing.spent)) spent</title></circle>"
            let anchor = cx > left + plotWidth * 0.7 ? "end" : "start"
            // Above and to the left of the marker when it is on the right: the line comes from below left.
            let ly = anchor == "end" ? max(top + 10, cy - 8) : cy + 16
            svg += "<text class=\"crossed-label\" x=\"\(c(anchor == "end" ? cx - 8 : cx + 8))\" y=\"\(c(ly))\" text-anchor=\"\(anchor)\">"
                + "over on \(monthName(crossing.day.month)) \(crossing.day.day)</text>"
        }
        return svg + "</svg>"
    }

    /// A horizontal bar chart.
    package static func bars(_ bars: [Bar], title: String, id: String) -> String {
        let width = 640.0, labelWidth = 214.0, row = 24.0, barHeight = 15.0, top = 6.0
        let height = top * 2 + row * Double(max(bars.count, 1))
        let plotWidth = width - labelWidth - 70
        let highest = max(bars.map(\.value).max() ?? 0, 1)
        let c = HTMLText.coordinate
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(c(width)) \(c(height))\" role=\"img\" aria-labelledby=\"\(id)-t\">"
        svg += "<title id=\"\(id)-t\">\(HTMLText.escape(title))</title>"
        if bars.isEmpty {
            return svg + "<text class=\"axis\" x=\"\(c(labelWidth))\" y=\"\(c(top + 16))\">No violations.</text></svg>"
        }
        for (index, bar) in bars.enumerated() {
            let y = top + row * Double(index)
            let length = max(2, plotWidth * Double(bar.value) / Double(highest))
            svg += "<g><title>\(HTMLText.escape(bar.detail))</title>"
            svg += "<text class=\"label\" x=\"\(c(labelWidth - 8))\" y=\"\(c(y + barHeight - 3))\" text-anchor=\"end\">"
                + "\(HTMLText.escape(HTMLText.truncated(bar.label, 30)))</text>"
            svg += "<rect class=\"\(bar.style)\" x=\"\(c(labelWidth))\" y=\"\(c(y))\" width=\"\(c(length))\" height=\"\(c(barHeight))\" rx=\"2\"/>"
            svg += "<text class=\"value\" x=\"\(c(labelWidth + length + 6))\" y=\"\(c(y + barHeight - 3))\">\(ReportText.count(bar.value))</text></g>"
        }
        return svg + "</svg>"
    }

    /// `Jan` … `Dec`.
    package static func monthName(_ month: Int) -> String {
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][max(0, min(11, month - 1))]
    }
}
