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
            String name = file.getFileName().toString().replace(".trace.gz", "").replace(".gz", "");
            return new Trace(name, n, kind, id, size, alignment, thread, maxId + 1, maxThread + 1);
        }
    }
}
