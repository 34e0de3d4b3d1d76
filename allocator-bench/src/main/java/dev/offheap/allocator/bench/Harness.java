package dev.offheap.allocator.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.Collection;

/** The comparison harness: the main job of this project from the command line. */
public final class Harness {
    private Harness() {
    }

    public static void main(String[] args) throws RunnerException {
        Options options = new OptionsBuilder()
                .include(PairBenchmark.class.getSimpleName())
                .build();
        Collection<RunResult> results = new Runner(options).run();
        results.forEach(r -> System.out.println(r.getParams().getParam("peer") + " " + r.getPrimaryResult()));
    }
}
