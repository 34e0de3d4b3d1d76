package dev.offheap.allocator.bench;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.offheap.allocator.cache.OffHeapCache;
import dev.offheap.allocator.cache.OffHeapCacheConfig;
import org.tukaani.xz.XZInputStream;

import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * Workload {@code cache-trace}: hit rates on real cache key traces. Each access is a read; a miss puts the key
 * (read-through), with a 16-byte value. Policies at the same budget of entries: {@code OffHeapCache} bounded by
 * {@code maxEntries(n)} (bytes to spare), {@code OffHeapCache} bounded by {@code capacityBytes} for n entries
 * (n times one entry's weight), Caffeine ({@code maximumSize(n)}, maintenance on the caller's thread: the
 * reference for W-TinyLFU with an adaptive window) and an LRU ({@link LinkedHashMap} in access order).
 *
 * <p>Formats, as {@code ../shared/cachetraces/FORMAT.md} gives them: the LIRS set (text, one decimal key per
 * line, gzip or plain) and the cache2k set (big-endian 32-bit keys back to back, xz or plain); the name tells
 * which ({@code .xz} or {@code cache2k} in it: binary). Budgets: 1/16, 1/8, 1/4 and 1/2 of the distinct keys.
 *
 * <pre>java -cp ... dev.offheap.allocator.bench.CacheTraceReplay FILE...</pre>
 */
public final class CacheTraceReplay {

    static final List<String> POLICIES = List.of("offheap-entries", "offheap-bytes", "caffeine", "lru");
    static final int[] BUDGET_DIVISORS = {16, 8, 4, 2};
    private static final byte[] VALUE = new byte[16];

    private CacheTraceReplay() {
    }

    public static void main(String[] args) throws IOException {
        for (String file : args) {
            Path path = Path.of(file);
            long[] keys = read(path);
            long distinct = Arrays.stream(keys).distinct().count();
            for (int divisor : BUDGET_DIVISORS) {
                int budget = (int) Math.max(16, distinct / divisor);
                for (String policy : POLICIES) {
                    double hitRate = hitRate(policy, keys, budget);
                    System.out.printf(Locale.ROOT, "RESULT cachetrace trace=%s accesses=%d distinct=%d budget=%d"
                                    + " policy=%s hitRate=%s%n", name(path), keys.length, distinct, budget, policy,
                            Double.isNaN(hitRate) ? "-" : String.format(Locale.ROOT, "%.4f", hitRate));
                }
            }
        }
    }

    static String name(Path path) {
        return path.getFileName().toString().replaceAll("\\.trace(\\.(gz|xz))?$", "").replaceAll("\\.(gz|xz)$", "");
    }

    /** The keys of a trace, in order. */
    static long[] read(Path path) throws IOException {
        String name = path.getFileName().toString();
        boolean binary = name.endsWith(".xz") || name.contains("cache2k");
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(path), 1 << 16);
             InputStream in = name.endsWith(".xz") ? new XZInputStream(raw)
                     : name.endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw) {
            long[] keys = new long[1 << 16];
            int n = 0;
            if (binary) {
                DataInputStream data = new DataInputStream(new BufferedInputStream(in, 1 << 16));
                while (true) {
                    int key;
                    try {
                        key = data.readInt();
                    } catch (EOFException end) {
                        break;
                    }
                    if (n == keys.length) {
                        keys = Arrays.copyOf(keys, n * 2);
                    }
                    keys[n++] = key & 0xFFFF_FFFFL;
                }
            } else {
                BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
                int lineNumber = 0;
                for (String line; (line = reader.readLine()) != null; ) {
                    lineNumber++;
                    line = line.strip();
                    if (line.isEmpty() || line.startsWith("#")) {
                        continue;
                    }
                    if (n == keys.length) {
                        keys = Arrays.copyOf(keys, n * 2);
                    }
                    try {
                        keys[n++] = Long.parseLong(line.split("\\s+")[0]);
                    } catch (NumberFormatException e) {
                        throw new IOException(path + ":" + lineNumber + ": not a LIRS trace line (a decimal key): '"
                                + line + "'", e);
                    }
                }
            }
            return Arrays.copyOf(keys, n);
        }
    }

    /** The hit rate of one policy at one budget, or NaN where the policy cannot be configured for it. */
    static double hitRate(String policy, long[] keys, int budget) {
        return switch (policy) {
            case "offheap-entries", "offheap-bytes" -> offHeap(policy.equals("offheap-entries"), keys, budget);
            case "caffeine" -> {
                Cache<Long, byte[]> cache = Caffeine.newBuilder().maximumSize(budget).executor(Runnable::run).build();
                long hits = 0;
                for (long key : keys) {
                    if (cache.getIfPresent(key) != null) {
                        hits++;
                    } else {
                        cache.put(key, VALUE);
                    }
                }
                yield hits / (double) keys.length;
            }
            case "lru" -> {
                Map<Long, byte[]> cache = new LinkedHashMap<>(budget * 2, 0.75f, true) {
                    @Override
                    protected boolean removeEldestEntry(Map.Entry<Long, byte[]> eldest) {
                        return size() > budget;
                    }
                };
                long hits = 0;
                for (long key : keys) {
                    if (cache.get(key) != null) {
                        hits++;
                    } else {
                        cache.put(key, VALUE);
                    }
                }
                yield hits / (double) keys.length;
            }
            default -> throw new IllegalArgumentException("unknown policy '" + policy + "'; known: " + POLICIES);
        };
    }

    private static double offHeap(boolean boundedByEntries, long[] keys, int budget) {
        long entryWeight = entryWeight();
        // Bounded by entries: bytes to spare (and at least one default segment's 4 MiB, so one segment).
        long capacity = boundedByEntries ? Math.max(2 * budget * entryWeight, 4L << 20) : budget * entryWeight;
        // Keys are 8 bytes: saying so lets a small budget be a cache of its own size (every segment must hold the
        // largest entry the bounds allow).
        OffHeapCacheConfig config = new OffHeapCacheConfig().name("trace").maxValueBytes(VALUE.length)
                .maxKeyBytes(Long.BYTES).capacityBytes(capacity);
        if (boundedByEntries) {
            config = config.maxEntries(budget);
        }
        OffHeapCache cache;
        try {
            cache = OffHeapCache.create(config);
        } catch (IllegalArgumentException tooSmall) {
            return Double.NaN; // below the smallest capacity (4 KiB)
        }
        try (cache) {
            byte[] key = new byte[8];
            long hits = 0;
            for (long k : keys) {
                longToBytes(k, key);
                if (cache.get(key) != null) {
                    hits++;
                } else {
                    cache.put(key, VALUE);
                }
            }
            return hits / (double) keys.length;
        }
    }

    /** What one entry of an 8-byte key and a 16-byte value weighs in the cache (as allocated). */
    private static long entryWeight() {
        try (OffHeapCache probe = OffHeapCache.create(new OffHeapCacheConfig().name("probe").segments(1))) {
            probe.put(new byte[8], VALUE);
            return probe.weightBytes();
        }
    }

    private static void longToBytes(long value, byte[] into) {
        for (int i = 0; i < 8; i++) {
            into[i] = (byte) (value >>> (8 * i));
        }
    }
}
