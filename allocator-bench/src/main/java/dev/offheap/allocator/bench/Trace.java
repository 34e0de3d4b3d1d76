package dev.offheap.allocator.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * An allocation trace in the alloc-trace v1 format (see shared/traces/FORMAT.md), read whole into arrays so
 * that a replay measures the allocator, not the parser.
 */
final class Trace {
    static final byte ALLOCATE = 'a';
    static final byte FREE = 'f';
    static final byte RESIZE = 'r';

    final String name;
    final int events;
    final byte[] kind;
    final int[] id;
    final long[] size;
    final int[] alignment;
    final int[] thread;
    final int ids;
    final int threads;

    private Trace(String name, int events, byte[] kind, int[] id, long[] size, int[] alignment, int[] thread,
                  int ids, int threads) {
        this.name = name;
        this.events = events;
        this.kind = kind;
        this.id = id;
        this.size = size;
        this.alignment = alignment;
        this.thread = thread;
        this.ids = ids;
        this.threads = threads;
    }

    /** The thread count a trace's header names (its {@code threads:} field), or 1 if it names none. */
    static int threadsInHeader(Path file) {
        try (InputStream raw = Files.newInputStream(file);
             InputStream in = file.toString().endsWith(".gz") ? new GZIPInputStream(raw) : raw;
             BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null && line.startsWith("#")) {
                int at = line.indexOf(" threads: ");
                if (at >= 0) {
                    return Integer.parseInt(line.substring(at + 10).split(" ")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            return 1;
        }
        return 1;
    }

    static Trace read(Path file) throws IOException {
        try (InputStream raw = Files.newInputStream(file);
             InputStream in = file.toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw;
             BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16)) {
            int capacity = 1 << 16;
            byte[] kind = new byte[capacity];
            int[] id = new int[capacity];
            long[] size = new long[capacity];
            int[] alignment = new int[capacity];
            int[] thread = new int[capacity];
            int n = 0;
            int maxId = -1;
            int maxThread = 0;
            String line;
            int lineNumber = 0;
            while ((line = reader.readLine()) != null) {
                lineNumber++;
                if (line.isEmpty() || line.charAt(0) == '#') {
                    continue;
                }
                if (n == capacity) {
                    capacity *= 2;
                    kind = Arrays.copyOf(kind, capacity);
                    id = Arrays.copyOf(id, capacity);
                    size = Arrays.copyOf(size, capacity);
                    alignment = Arrays.copyOf(alignment, capacity);
                    thread = Arrays.copyOf(thread, capacity);
                }
                String[] f = line.split(" ");
                try {
                    kind[n] = (byte) f[0].charAt(0);
                    id[n] = Integer.parseInt(f[1]);
                    switch (kind[n]) {
                        case ALLOCATE -> {
                            size[n] = Long.parseLong(f[2]);
                            thread[n] = Integer.parseInt(f[3]);
                            alignment[n] = f.length > 4 ? Integer.parseInt(f[4]) : 0;
                        }
                        case RESIZE -> {
                            size[n] = Long.parseLong(f[2]);
                            thread[n] = Integer.parseInt(f[3]);
                        }
                        case FREE -> thread[n] = Integer.parseInt(f[2]);
                        default -> throw new IOException("unknown event '" + f[0] + "'");
                    }
                } catch (RuntimeException e) {
                    throw new IOException(file + ":" + lineNumber + ": not an alloc-trace v1 event: '" + line + "'", e);
                }
                maxId = Math.max(maxId, id[n]);
                maxThread = Math.max(maxThread, thread[n]);
                n++;
            }
            requireWellFormed(file, n, kind, id, size, alignment);
            String name = file.getFileName().toString().replace(".trace.gz", "").replace(".gz", "");
            return new Trace(name, n, kind, id, size, alignment, thread, maxId + 1, maxThread + 1);
        }
    }

    /**
     * Rejects a trace that a replay would turn into a use after free: an id allocated twice, or resized or freed
     * while not live; a negative size; an alignment that is not a power of two. A replay trusts the trace: against
     * a malloc peer, a resize of a freed block is a realloc of a dangling pointer, which corrupts the C heap and
     * can crash the JVM (the bench once died that way in a malloc peer's write of a block's last byte).
     */
    private static void requireWellFormed(Path file, int events, byte[] kind, int[] id, long[] size, int[] alignment)
            throws IOException {
        java.util.BitSet live = new java.util.BitSet();
        java.util.BitSet seen = new java.util.BitSet();
        for (int e = 0; e < events; e++) {
            int block = id[e];
            String problem = null;
            if (block < 0) {
                problem = "a negative id";
            } else if (kind[e] == ALLOCATE) {
                if (seen.get(block)) {
                    problem = "id " + block + " allocated again (ids are never reused)";
                } else if (alignment[e] != 0 && Integer.bitCount(alignment[e]) != 1) {
                    problem = "alignment " + alignment[e] + " is not a power of two";
                }
                seen.set(block);
                live.set(block);
            } else if (!live.get(block)) {
                problem = (kind[e] == FREE ? "free" : "resize") + " of id " + block + ", which is not live";
            } else if (kind[e] == FREE) {
                live.clear(block);
            }
            if (problem == null && kind[e] != FREE && size[e] < 0) {
                problem = "negative size " + size[e];
            }
            if (problem != null) {
                throw new IOException(file + ": event " + (e + 1) + " (not counting comments): " + problem
                        + "; a replay would corrupt the peer's heap");
            }
        }
    }
}
