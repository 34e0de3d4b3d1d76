package dev.offheap.allocator.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;

/**
 * The cache workload, one peer per JVM: YCSB-style scrambled Zipfian keys over {@value #RECORDS} records,
 * values from a size mix (16 B to 128 KiB, half under 256 B; each key's size fixed), reads with cache-aside
 * fill on a miss, and a given share of writes, all on one pool of two threads. Prints one {@code RESULT} line:
 *
 * <ul>
 *   <li>throughput on 1 and on 2 threads (operations per second, each thread as fast as it can);</li>
 *   <li>hit rate of the reads (during the 2-thread run, after a warm-up that fills the cache);</li>
 *   <li>latency percentiles at a fixed rate on one thread, measured from each operation's intended start (a
 *       stall delays the operations behind it and they count it: no coordinated omission), after a warm-up
 *       run of the same loop;</li>
 *   <li>memory: growth of the process's resident set over the run (heap pre-touched, so this is off-heap memory
 *       plus the JVM's own growth, alike for every peer), and the peer's own figure where it gives one.</li>
 * </ul>
 *
 * <p>Usage: {@code CacheBench PEER READ_PERCENT SECONDS RATE_PER_SECOND}.
 */
public final class CacheBench {
    static final long RECORDS = 200_000;
    static final long CAPACITY_BYTES = 256L << 20;
    static final int MAX_VALUE_BYTES = 128 << 10;
    /** Value sizes: 48 steps from 16 B to 128 KiB, each about 1.2 times the last. */
    private static final int[] SIZES = new int[48];
    private static final byte[][] VALUES = new byte[SIZES.length][];

    static {
        for (int i = 0; i < SIZES.length; i++) {
            SIZES[i] = (int) Math.round(16 * Math.pow(2, 13.0 * i / (SIZES.length - 1)));
            VALUES[i] = new byte[SIZES[i]];
            Arrays.fill(VALUES[i], (byte) i);
        }
    }

    private CacheBench() {
    }

    /** The value of {@code key}: 50% 16-256 B, 35% 256 B-2 KiB, 13% 2-16 KiB, 2% 16-128 KiB. */
    static byte[] valueOf(long key) {
        long h = ScrambledZipfian.fnv64(key * 0x9E3779B97F4A7C15L);
        int bucket = (int) (h % 100);
        int from;
        int to;
        if (bucket < 50) {
            from = 0;
            to = 15;
        } else if (bucket < 85) {
            from = 15;
            to = 26;
        } else if (bucket < 98) {
            from = 26;
            to = 37;
        } else {
            from = 37;
            to = 48;
        }
        return VALUES[from + (int) ((h >>> 8) % (to - from))];
    }

    public static void main(String[] args) throws Exception {
        String peerName = args[0];
        int readPercent = Integer.parseInt(args[1]);
        double seconds = Double.parseDouble(args[2]);
        int rate = Integer.parseInt(args[3]);
        long averageValue = 0;
        for (long k = 0; k < 20_000; k++) {
            averageValue += valueOf(k).length;
        }
        averageValue /= 20_000;
        long rssBefore = ResidentMemory.baseline();
        // Every phase runs on the same two threads, as a service's thread pool would: threads that end between
        // phases would measure how each peer deals with dead threads' memory, a different question.
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (CachePeer peer = CachePeer.create(peerName, CAPACITY_BYTES, RECORDS, (int) averageValue)) {
            run(pool, peer, readPercent, 2, Math.max(2, seconds), 1); // warm-up: fills the cache, compiles the code
            Run one = run(pool, peer, readPercent, 1, seconds, 2);
            Run two = run(pool, peer, readPercent, 2, seconds, 3);
            // One run of the loop: its first half-duration warms it up and is not recorded (JFR showed deopts at its
            // start). Not two calls: the second began interpreted again and, on this 2-core machine, stalled about
            // 4 ms (one scheduler tick) some 200 operations in, in 3 of 6 runs, which alone read as a p99.9 of 2.5 ms.
            long[] latencies = pool.submit(() -> fixedRate(peer, readPercent, seconds / 2, seconds, rate)).get();
            long rssGrowth = ResidentMemory.status("VmRSS") - rssBefore;
            System.out.printf(Locale.ROOT, "RESULT ops1=%.0f ops2=%.0f hitRate=%.4f p50=%d p99=%d p999=%d"
                            + " rssGrowth=%d own=%d capacity=%d averageValue=%d note=%s%n",
                    one.opsPerSecond, two.opsPerSecond, two.hitRate(), percentile(latencies, 0.50),
                    percentile(latencies, 0.99), percentile(latencies, 0.999), rssGrowth, peer.ownMemoryBytes(),
                    CAPACITY_BYTES, averageValue, peer.note().replace(' ', '_'));
        } finally {
            pool.shutdown();
        }
    }

    private record Run(double opsPerSecond, long reads, long hits) {
        double hitRate() {
            return reads == 0 ? 0 : (double) hits / reads;
        }
    }

    private static Run run(ExecutorService pool, CachePeer peer, int readPercent, int threads, double seconds,
                           long seed) throws InterruptedException, ExecutionException {
        LongAdder ops = new LongAdder();
        LongAdder reads = new LongAdder();
        LongAdder hits = new LongAdder();
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        List<Future<?>> workers = new ArrayList<>();
        long started = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            long threadSeed = seed * 1000 + t;
            workers.add(pool.submit(() -> {
                ScrambledZipfian keys = new ScrambledZipfian(RECORDS, threadSeed);
                CachePeer.Scratch scratch = new CachePeer.Scratch();
                long n = 0;
                long r = 0;
                long h = 0;
                while ((n & 255) != 0 || System.nanoTime() < deadline) {
                    long key = keys.next();
                    if (keys.nextDouble() * 100 < readPercent) {
                        r++;
                        if (peer.get(key, scratch)) {
                            h++;
                        } else {
                            peer.put(key, valueOf(key), scratch);
                        }
                    } else {
                        peer.put(key, valueOf(key), scratch);
                    }
                    n++;
                }
                ops.add(n);
                reads.add(r);
                hits.add(h);
            }));
        }
        for (Future<?> worker : workers) {
            worker.get();
        }
        double elapsed = (System.nanoTime() - started) / 1e9;
        return new Run(ops.sum() / elapsed, reads.sum(), hits.sum());
    }

    /**
     * One thread at {@code rate} operations per second for {@code warmUpSeconds + seconds}; the latencies of the
     * last {@code seconds}, each from the operation's intended start.
     */
    private static long[] fixedRate(CachePeer peer, int readPercent, double warmUpSeconds, double seconds, int rate) {
        int warmUp = (int) (warmUpSeconds * rate);
        int count = warmUp + (int) (seconds * rate);
        long[] latencies = new long[count - warmUp];
        long interval = 1_000_000_000L / rate;
        ScrambledZipfian keys = new ScrambledZipfian(RECORDS, 99);
        CachePeer.Scratch scratch = new CachePeer.Scratch();
        long start = System.nanoTime();
        for (int i = 0; i < count; i++) {
            long intended = start + i * interval;
            while (System.nanoTime() < intended) {
                Thread.onSpinWait();
            }
            long key = keys.next();
            if (keys.nextDouble() * 100 < readPercent) {
                if (!peer.get(key, scratch)) {
                    peer.put(key, valueOf(key), scratch);
                }
            } else {
                peer.put(key, valueOf(key), scratch);
            }
            if (i >= warmUp) {
                latencies[i - warmUp] = System.nanoTime() - intended;
            }
        }
        Arrays.sort(latencies);
        return latencies;
    }

    private static long percentile(long[] sorted, double p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
    }
}
