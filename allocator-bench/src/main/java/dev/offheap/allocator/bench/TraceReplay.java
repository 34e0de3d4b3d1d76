package dev.offheap.allocator.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Replays one trace against one peer, in a JVM of its own (the harness starts one per peer and trace), and
 * prints one {@code RESULT} line: time, peak live bytes, and peak memory, either committed bytes (peers that
 * report them) or the growth of resident memory (VmHWM over the VmRSS before the replay).
 *
 * <p>Each block's events run in trace order on one thread: a multi-threaded trace is replayed serially, so its
 * cross-thread frees are not cross-thread here.
 */
public final class TraceReplay {
    private TraceReplay() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: TraceReplay <trace file> <peer>");
            System.exit(2);
        }
        Trace trace = Trace.read(Path.of(args[0]));
        String peerName = args[1];
        long rssBefore = procStatus("VmRSS");
        try (Peer peer = Peer.create(peerName, 1L << 30, 1 << 20)) {
            Result warm = replay(trace, peer);   // warms the JIT and the allocator's caches
            Result result = replay(trace, peer);
            long peakMemory = peer.committedBytes() >= 0 ? Math.max(warm.peakCommitted, result.peakCommitted)
                    : procStatus("VmHWM") - rssBefore;
            System.out.printf(Locale.ROOT, "RESULT trace=%s peer=%s events=%d millis=%.1f nsPerEvent=%.1f"
                            + " peakLive=%d peakMemory=%d memoryKind=%s%n", trace.name, peerName, trace.events,
                    result.nanos / 1e6, (double) result.nanos / trace.events, result.peakLive, peakMemory,
                    peer.committedBytes() >= 0 ? "committed" : "rss-growth");
        }
    }

    private record Result(long nanos, long peakLive, long peakCommitted) {
    }

    private static Result replay(Trace trace, Peer peer) {
        long[] handles = new long[trace.ids];
        long[] sizes = new long[trace.ids];
        boolean[] live = new boolean[trace.ids];
        boolean sampleCommitted = peer.committedBytes() >= 0;
        long liveBytes = 0;
        long peakLive = 0;
        long peakCommitted = 0;
        long start = System.nanoTime();
        for (int e = 0; e < trace.events; e++) {
            int id = trace.id[e];
            switch (trace.kind[e]) {
                case Trace.ALLOCATE -> {
                    long size = trace.size[e];
                    handles[id] = trace.alignment[e] > 16 ? peer.allocateAligned(size, trace.alignment[e])
                            : peer.allocate(size);
                    peer.touch(handles[id], size);
                    sizes[id] = size;
                    live[id] = true;
                    liveBytes += size;
                }
                case Trace.RESIZE -> {
                    long size = trace.size[e];
                    handles[id] = peer.reallocate(handles[id], sizes[id], Math.max(size, 1));
                    peer.touch(handles[id], size);
                    liveBytes += size - sizes[id];
                    sizes[id] = size;
                }
                default -> {
                    peer.free(handles[id]);
                    live[id] = false;
                    liveBytes -= sizes[id];
                }
            }
            if (liveBytes > peakLive) {
                peakLive = liveBytes;
            }
            if (sampleCommitted && (e & 4095) == 0) {
                peakCommitted = Math.max(peakCommitted, peer.committedBytes());
            }
        }
        long nanos = System.nanoTime() - start;
        for (int id = 0; id < trace.ids; id++) {
            if (live[id]) {
                peer.free(handles[id]);
            }
        }
        return new Result(nanos, peakLive, peakCommitted);
    }

    /** A field of /proc/self/status in bytes, or -1 where there is none. */
    static long procStatus(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field + ":")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
