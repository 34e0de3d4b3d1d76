package dev.offheap.allocator.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The harness's results, and what it writes: tables for the terminal and {@code report.md}, one CSV of every
 * figure, and an SVG bar chart per table.
 */
final class Report {

    /** One table: a title, what its figures mean, the baseline its ratios divide by, and rows. */
    static final class Table {
        final String id;
        final String title;
        final String description;
        final List<String> columns;
        final List<List<String>> rows = new ArrayList<>();
        /** For the chart: row label to the value plotted (a ratio to the baseline). */
        final Map<String, Double> chart = new LinkedHashMap<>();
        final String chartLabel;

        Table(String id, String title, String description, List<String> columns, String chartLabel) {
            this.id = id;
            this.title = title;
            this.description = description;
            this.columns = columns;
            this.chartLabel = chartLabel;
        }

        void add(List<String> row) {
            rows.add(row);
        }

        String markdown() {
            StringBuilder out = new StringBuilder();
            out.append("### ").append(title).append("\n\n").append(description).append("\n\n");
            out.append("| ").append(String.join(" | ", columns)).append(" |\n");
            out.append("|").append("---|".repeat(columns.size())).append("\n");
            for (List<String> row : rows) {
                out.append("| ").append(String.join(" | ", row)).append(" |\n");
            }
            if (!chart.isEmpty()) {
                out.append("\n![").append(title).append("](").append(id).append(".svg)\n");
            }
            return out.append("\n").toString();
        }

        String text() {
            int[] widths = new int[columns.size()];
            for (int c = 0; c < columns.size(); c++) {
                widths[c] = columns.get(c).length();
                for (List<String> row : rows) {
                    widths[c] = Math.max(widths[c], row.get(c).length());
                }
            }
            StringBuilder out = new StringBuilder("\n== ").append(title).append(" ==\n");
            appendRow(out, columns, widths);
            for (List<String> row : rows) {
                appendRow(out, row, widths);
            }
            return out.toString();
        }

        private static void appendRow(StringBuilder out, List<String> row, int[] widths) {
            for (int c = 0; c < row.size(); c++) {
                String cell = row.get(c);
                out.append(c == 0 ? String.format("%-" + widths[c] + "s", cell)
                        : String.format("  %" + widths[c] + "s", cell));
            }
            out.append('\n');
        }

        /**
         * A horizontal bar chart of the chart values with the baseline (1) marked. The axis is what the values need:
         * logarithmic where the positive values span more than 10x (one 5,000x bar would make every other a
         * sliver on a linear axis), signed around 0 where some are negative (differences), linear otherwise.
         */
        String svg() {
            int barHeight = 18;
            int labelWidth = 230;
            int chartWidth = 520;
            int height = 50 + chart.size() * (barHeight + 6);
            double[] finite = chart.values().stream().mapToDouble(Double::doubleValue).filter(Double::isFinite)
                    .toArray();
            double max = java.util.Arrays.stream(finite).max().orElse(1);
            double min = java.util.Arrays.stream(finite).min().orElse(0);
            double minPositive = java.util.Arrays.stream(finite).filter(v -> v > 0).min().orElse(1);
            Axis axis = min < 0 ? new Axis(false, Math.min(min, 0) * 1.1, Math.max(max, 0) * 1.1)
                    : max / minPositive > 10 ? new Axis(true, Math.min(minPositive, 1) / 1.5, Math.max(max, 1) * 1.5)
                    : new Axis(false, 0, Math.max(max, 1.0) * 1.1);
            StringBuilder svg = new StringBuilder();
            svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
                    + " font-family=\"sans-serif\" font-size=\"12\">%n", labelWidth + chartWidth + 80, height));
            svg.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
            svg.append(String.format(Locale.ROOT, "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">%s"
                    + "</text>%n", escape(title + " (" + chartLabel + (axis.log ? ", log scale" : "") + ")")));
            double origin = labelWidth + chartWidth * axis.position(axis.log ? axis.from : Math.max(axis.from, 0));
            int y = 36;
            for (Map.Entry<String, Double> bar : chart.entrySet()) {
                double value = bar.getValue();
                double end = Double.isFinite(value) ? labelWidth + chartWidth * axis.position(value) : origin;
                double left = Math.min(origin, end);
                String colour = bar.getKey().startsWith("offheap") ? "#2b7bba" : "#9aa5b1";
                svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>%n",
                        labelWidth - 6, y + 13, escape(bar.getKey())));
                svg.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\""
                        + " fill=\"%s\"/>%n", left, y, Math.abs(end - origin), barHeight, colour));
                svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\">%s</text>%n",
                        Math.max(origin, end) + 4, y + 13, Double.isFinite(value)
                                ? String.format(Locale.ROOT, min < 0 ? "%+.3f" : Math.abs(value) >= 100 ? "%.0f"
                                : "%.2f", value) : "n/a"));
                y += barHeight + 6;
            }
            double mark = min < 0 ? 0 : 1;
            double at = labelWidth + chartWidth * axis.position(mark);
            svg.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"30\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c0392b\""
                    + " stroke-dasharray=\"4 3\"/>%n", at, at, y));
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" fill=\"#c0392b\">%s</text>%n",
                    at + 4, y + 12, min < 0 ? "0" : "baseline = 1"));
            return svg.append("</svg>\n").toString();
        }

        /** Where a value lies on the chart's width, 0 to 1. */
        private record Axis(boolean log, double from, double to) {
            double position(double value) {
                double p = log ? Math.log(Math.max(value, from) / from) / Math.log(to / from)
                        : (value - from) / (to - from);
                return Math.max(0, Math.min(1, p));
            }
        }

        private static String escape(String text) {
            return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
        }
    }

    final List<Table> tables = new ArrayList<>();
    final List<String> csv = new ArrayList<>(List.of("workload,peer,parameter,metric,value,unit"));

    void csv(String workload, String peer, String parameter, String metric, double value, String unit) {
        csv.add(String.join(",", cell(workload), cell(peer), cell(parameter), cell(metric),
                String.format(Locale.ROOT, "%.4f", value), cell(unit)));
    }

    /** A CSV cell: quoted (RFC 4180) when it holds a comma, a quote or a line break. */
    private static String cell(String text) {
        return text.matches("[^,\"\r\n]*") ? text : '"' + text.replace("\"", "\"\"") + '"';
    }

    void write(Path dir, String header) throws IOException {
        Files.createDirectories(dir);
        StringBuilder md = new StringBuilder(header);
        for (Table table : tables) {
            md.append(table.markdown());
            if (!table.chart.isEmpty()) {
                Files.writeString(dir.resolve(table.id + ".svg"), table.svg());
            }
        }
        Files.writeString(dir.resolve("report.md"), md.toString());
        Files.write(dir.resolve("results.csv"), csv);
    }

    // Cells

    static String fmt(double value) {
        if (Double.isNaN(value)) {
            return "-";
        }
        return String.format(Locale.ROOT, Math.abs(value) >= 100 ? "%.0f" : Math.abs(value) >= 10 ? "%.1f" : "%.2f",
                value);
    }

    static String millis(double seconds) {
        return Math.round(seconds * 1000) + "ms";
    }

    static String percent(double value) {
        return String.format(Locale.ROOT, "%.1f%%", value * 100);
    }

    static String mib(double bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (1 << 20));
    }
}
