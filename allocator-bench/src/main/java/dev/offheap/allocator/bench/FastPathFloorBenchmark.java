package dev.offheap.allocator.bench;

import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;

/**
 * How fast can a same-thread 64 B pair be in Java, and what does each safety property cost? Not an allocator:
 * the steps of {@link OffHeapAllocator}'s fast paths written out bare, then with one requirement added at a time,
 * beside the allocator itself and malloc, in one run. The pair is the harness's (allocate, write the first and
 * last byte, free).
 * <ol>
 *   <li>{@code bare}: pop a slot index from a free stack, push it back; the slab is a field, nothing is checked;</li>
 *   <li>{@code byAddress}: free finds the slab from the address through a page map and checks that a slot starts
 *       there (free takes an address, nothing else);</li>
 *   <li>{@code doubleFree}: plus a live byte per slot, set and checked (double frees rejected, always on, O(1));</li>
 *   <li>{@code threads}: plus the calling thread's cache and the slab's owner (no lock, any thread may call);</li>
 *   <li>{@code counted}: plus the per-slab allocation counter behind {@code stats()}, the only observability on
 *       the fast paths in the default configuration (JFR events, leak detection and JMX live on slow paths or
 *       are off), so {@code counted} against {@code threads} is what observability costs a pair;</li>
 *   <li>{@code offheap}: OffHeapAllocator (plus the closed check, size classes, refill, the debug and leak
 *       options).</li>
 * </ol>
 * Not in the harness's defaults. Run (a JDK 25 {@code java}):
 * <pre>
 *   mvn -pl allocator-bench -am -DskipTests package dependency:build-classpath -Dmdep.outputFile=cp.txt
 *   java --enable-native-access=ALL-UNNAMED -cp allocator-bench/target/classes:$(cat allocator-bench/cp.txt) \
 *       org.openjdk.jmh.Main FastPathFloorBenchmark
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class FastPathFloorBenchmark {
    private static final int PAGE_SHIFT = 16;
    private static final int SLOT = 64;
    private static final int SLOTS = (1 << PAGE_SHIFT) / SLOT;

    /** A page's owner, as the allocator's page map holds them. */
    abstract static class Span {
    }

    static final class Slab extends Span {
        final char[] freeStack = new char[SLOTS];
        final byte[] live = new byte[SLOTS];
        final long offset;
        final long reciprocal = ((1L << 40) + SLOT - 1) / SLOT;
        int freeTop = SLOTS;
        long allocations;
        Thread ownerThread;

        Slab(long offset) {
            this.offset = offset;
            for (int i = 0; i < SLOTS; i++) {
                freeStack[i] = (char) (SLOTS - 1 - i);
            }
        }

        int slotAt(long offsetInSlab) {
            int slot = (int) ((offsetInSlab * reciprocal) >>> 40);
            return (long) slot * SLOT == offsetInSlab && slot < SLOTS ? slot : -1;
        }
    }

    static final class Cache {
        final Thread thread;
        final Slab[] current = new Slab[64];

        Cache(Thread thread) {
            this.thread = thread;
        }
    }

    private long base;
    private long rangeBytes;
    private Slab slab;
    private final Span[] pageMap = new Span[16];
    private final Cache[] caches = new Cache[1024];
    private OffHeapAllocator allocator;
    private Peer malloc;
    private Peer mallocDowncall;

    @Setup(Level.Trial)
    public void setUp() {
        rangeBytes = (long) pageMap.length << PAGE_SHIFT;
        base = Arena.global().allocate(rangeBytes, 1L << PAGE_SHIFT).address();
        slab = new Slab(3L << PAGE_SHIFT);
        slab.ownerThread = Thread.currentThread();
        pageMap[3] = slab;
        Cache cache = new Cache(Thread.currentThread());
        cache.current[3] = slab;
        caches[(int) Thread.currentThread().threadId() & 1023] = cache;
        allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("floor").maxBytes(64L << 20));
        malloc = Peer.create("malloc", 0, SLOT);
        mallocDowncall = Peer.create("malloc-downcall", 0, SLOT);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        allocator.close();
    }

    @Benchmark
    public long bare() {
        Slab s = slab;
        int top = s.freeTop - 1;
        if (top < 0) {
            throw new IllegalStateException("empty");
        }
        long address = base + s.offset + (long) s.freeStack[top] * SLOT;
        s.freeTop = top;
        Peer.touchAddress(address, SLOT);
        int slot = (int) ((address - base - s.offset) / SLOT);
        s.freeStack[s.freeTop++] = (char) slot;
        return address;
    }

    @Benchmark
    public long byAddress() {
        long address = pop(slab, false);
        Peer.touchAddress(address, SLOT);
        freeByAddress(address, false, false);
        return address;
    }

    @Benchmark
    public long doubleFree() {
        long address = pop(slab, true);
        Peer.touchAddress(address, SLOT);
        freeByAddress(address, true, false);
        return address;
    }

    @Benchmark
    public long threads() {
        return threadPair(false);
    }

    @Benchmark
    public long counted() {
        return threadPair(true);
    }

    /** The pair through the calling thread's cache, counting the allocation if asked (a constant per caller). */
    private long threadPair(boolean count) {
        Thread thread = Thread.currentThread();
        if (thread.isVirtual()) {
            throw new IllegalStateException("virtual");
        }
        Cache cache = caches[(int) thread.threadId() & 1023];
        if (cache == null || cache.thread != thread) {
            throw new IllegalStateException("no cache");
        }
        Slab s = cache.current[3];
        long address = pop(s, true);
        if (count) {
            s.allocations++;
        }
        Peer.touchAddress(address, SLOT);
        freeByAddress(address, true, true);
        return address;
    }

    /** Pops a slot of {@code s} (marking it live if asked). The flags are constants at each call site. */
    private long pop(Slab s, boolean markLive) {
        int top = s.freeTop - 1;
        if (top < 0) {
            throw new IllegalStateException("empty");
        }
        int taken = s.freeStack[top];
        s.freeTop = top;
        if (markLive) {
            s.live[taken] = 1;
        }
        return base + s.offset + (long) taken * SLOT;
    }

    /** Frees by address through the page map, checking the live byte and the owner if asked. */
    private void freeByAddress(long address, boolean checkLive, boolean checkOwner) {
        long offset = address - base;
        if (offset >= 0 && offset < rangeBytes && pageMap[(int) (offset >>> PAGE_SHIFT)] instanceof Slab f) {
            int slot = f.slotAt(offset - f.offset);
            if (slot >= 0 && (!checkOwner || f.ownerThread == Thread.currentThread())
                    && (!checkLive || f.live[slot] != 0)) {
                if (checkLive) {
                    f.live[slot] = 0;
                }
                f.freeStack[f.freeTop++] = (char) slot;
                return;
            }
        }
        throw new IllegalArgumentException("not a live block of this thread");
    }

    @Benchmark
    public long offheap() {
        long address = allocator.allocate(SLOT);
        Peer.touchAddress(address, SLOT);
        allocator.free(address);
        return address;
    }

    @Benchmark
    public long malloc() {
        return pair(malloc);
    }

    @Benchmark
    public long mallocDowncall() {
        return pair(mallocDowncall);
    }

    /** The pair through a peer, as {@link PairBenchmark} measures it (each benchmark runs in its own JVM). */
    private static long pair(Peer peer) {
        long address = peer.allocate(SLOT);
        peer.touch(address, SLOT);
        peer.free(address);
        return address;
    }
}
