package dev.offheap.allocator.bench;

import java.util.Arrays;
import java.util.DoubleSummaryStatistics;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.DoubleFunction;
import java.util.stream.Collectors;

/**
 * The rounds of a workload that runs its child JVMs several times (netty-server, gc): each round's
 * {@code RESULT} line as fields, and their medians with min-max for the tables.
 */
final class Rounds {

    private Rounds() {
    }

    /** The {@code key=value} fields of a {@code RESULT} line after {@code prefix}. */
    static Map<String, String> fields(String line, String prefix) {
        return Arrays.stream(line.substring(prefix.length()).split(" ")).map(f -> f.split("=", 2))
                .collect(Collectors.toMap(f -> f[0], f -> f[1], (first, second) -> second, LinkedHashMap::new));
    }

    /** The median of {@code field} over the rounds; NaN for none. */
    static double median(List<Map<String, String>> rows, String field) {
        if (rows == null || rows.isEmpty()) {
            return Double.NaN;
        }
        double[] values = rows.stream().mapToDouble(r -> Double.parseDouble(r.get(field))).sorted().toArray();
        return values[values.length / 2];
    }

    /** The median of {@code field} over {@code unit}, with min-max in brackets where there is more than one round. */
    static String spread(List<Map<String, String>> rows, String field, double unit, String format) {
        return spread(rows, field, unit, value -> String.format(Locale.ROOT, format, value));
    }

    /** {@link #spread(List, String, double, String)} with each figure written by {@code format}. */
    static String spread(List<Map<String, String>> rows, String field, double unit, DoubleFunction<String> format) {
        String median = format.apply(median(rows, field) / unit);
        if (rows.size() == 1) {
            return median;
        }
        DoubleSummaryStatistics stats = rows.stream().mapToDouble(r -> Double.parseDouble(r.get(field)) / unit)
                .summaryStatistics();
        return median + " (" + format.apply(stats.getMin()) + "-" + format.apply(stats.getMax()) + ")";
    }
}
