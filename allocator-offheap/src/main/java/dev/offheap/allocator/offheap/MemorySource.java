package dev.offheap.allocator.offheap;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

import static dev.offheap.allocator.internal.Checks.hex;
import static dev.offheap.allocator.offheap.OffHeapAllocator.MAX_ALIGNMENT;
import static dev.offheap.allocator.offheap.PageBuddy.PAGE_BYTES;

/**
 * Where an {@link OffHeapAllocator}'s memory comes from: one contiguous range, so that a block's metadata
 * is found from its address by arithmetic.
 *
 * <ul>
 *   <li>{@link #reserved()} (the default): address space reserved with anonymous {@code mmap}
 *       ({@code MAP_NORESERVE}), backed by memory only where touched, handed back with
 *       {@code madvise(MADV_DONTNEED)} and unmapped on close. Linux and macOS, and it needs native access
 *       ({@code --enable-native-access=ALL-UNNAMED}, or the module name): without it the allocator refuses to
 *       start and says so, rather than fall back to memory committed up front. Address space is not memory:
 *       the range is reserved at about four times {@code maxBytes} (at most {@code maxBytes} + 64 GiB), so that
 *       spans never lack a contiguous run; the cap counts the pages committed in it.</li>
 *   <li>{@link #of(MemorySegment)} / {@link #of(ByteBuffer)}: a caller's native region (a memory-mapped
 *       file, a shared-memory segment, a direct buffer). Every byte the allocator hands out, thread caches
 *       and huge blocks included, comes from that region; nothing is given back to the OS (it is the
 *       caller's), and closing the allocator leaves the region to its owner. The allocator uses the part of
 *       the region from its first 64 KiB boundary, in whole 64 KiB pages, at most {@code maxBytes}: all of a
 *       mapped file or a page-aligned region whose size is a multiple of 64 KiB.</li>
 *   <li>{@link #arena()}: one {@code Arena.ofShared()} allocation of {@code maxBytes}, for platforms without
 *       mmap: committed (zeroed, so resident) in full at creation and never decommitted; the allocator logs a
 *       warning saying so.</li>
 * </ul>
 *
 * <p>Sources are descriptions; each allocator opens its own range from one. Thread-safe.
 */
public sealed interface MemorySource {

    /**
     * Reserved address space through {@code mmap}. Opening it fails, naming the flag to add, where the JVM denies
     * native access or the platform has no mmap; choose {@link #arena()} explicitly to run there anyway.
     */
    static MemorySource reserved() {
        return Reserved.INSTANCE;
    }

    /** One shared-arena allocation of the whole capacity, committed at creation (see the class comment). */
    static MemorySource arena() {
        return ArenaBacked.INSTANCE;
    }

    /**
     * A caller's native region. The allocator uses it from its first 64 KiB boundary, in whole 64 KiB pages,
     * up to {@code maxBytes} (all of a page-aligned region whose size is a multiple of 64 KiB), and formats
     * nothing outside it; the log line at creation says how much it uses.
     *
     * @throws IllegalArgumentException if the segment is on the heap or read-only
     */
    static MemorySource of(MemorySegment region) {
        if (!region.isNative()) {
            throw new IllegalArgumentException("MemorySource.of(a heap segment): the region must be native memory"
                    + " (Arena.allocate, a mapped file, or MemorySegment.ofBuffer of a direct buffer)");
        }
        if (region.isReadOnly()) {
            throw new IllegalArgumentException("MemorySource.of(a read-only segment): the allocator writes to its"
                    + " region");
        }
        return new Region(region);
    }

    /**
     * A direct buffer's memory as the region.
     *
     * @throws IllegalArgumentException if the buffer is not direct
     */
    static MemorySource of(ByteBuffer directBuffer) {
        if (!directBuffer.isDirect()) {
            throw new IllegalArgumentException("MemorySource.of(a heap ByteBuffer): the region must be native memory;"
                    + " use ByteBuffer.allocateDirect or a MappedByteBuffer");
        }
        return of(MemorySegment.ofBuffer(directBuffer));
    }

    /**
     * Opens the range for an allocator capped at {@code maxBytes}: reserved address space of about four times
     * that, aligned to 4 MiB; an arena of {@code maxBytes}; or the part of a region described above.
     *
     * @throws IllegalStateException if the source cannot be had here (no native access, no mmap), saying what
     *     to do
     * @throws IllegalArgumentException if a region holds less than the allocator needs
     */
    Range open(long maxBytes);

    /**
     * One opened range: its memory as a segment whose scope closes with {@link #close()}, and the ability (or
     * not) to hand pages back.
     */
    interface Range extends AutoCloseable {
        /** The whole range; accesses after {@link #close()} throw instead of touching freed memory. */
        MemorySegment segment();

        /** Whether {@link #decommit} gives memory back to the OS. */
        boolean canDecommit();

        /** Gives back the pages of {@code [offset, offset + byteSize)}; they read as zero when touched again. */
        void decommit(long offset, long byteSize);

        /**
         * The smallest aligned span {@link #decommit} hands back: the OS's page (4 KiB on x86-64), or the
         * allocator's 64 KiB page where the range cannot decommit or the OS page is not smaller.
         */
        long decommitGranule();

        /** Releases the range (unmaps it, frees it, or leaves a caller's region to its owner). */
        @Override
        void close();
    }

    /** How a range gives pages back: {@code (offset, byteSize)}. */
    @FunctionalInterface
    interface Decommitter {
        void decommit(long offset, long byteSize);
    }

    /**
     * A range as opened by one of the sources: its segment, how it decommits (null: it cannot), how it closes.
     * Decommits run outside the heap's lock (the purger's madvise calls must not stall allocations), so they
     * and {@link #close()} exclude each other here: once closed, a late decommit does nothing, and it can never
     * reach address space that was unmapped and perhaps mapped again by someone else.
     */
    static final class OpenRange implements Range {
        private final MemorySegment segment;
        private final Decommitter decommitter;
        private final long granule;
        private final Runnable closer;
        private boolean closed;

        OpenRange(MemorySegment segment, Decommitter decommitter, long granule, Runnable closer) {
            this.segment = segment;
            this.decommitter = decommitter;
            this.granule = decommitter == null || granule <= 0 || granule > PAGE_BYTES
                    || Long.bitCount(granule) != 1 ? PAGE_BYTES : granule;
            this.closer = closer;
        }

        @Override
        public long decommitGranule() {
            return granule;
        }

        @Override
        public MemorySegment segment() {
            return segment;
        }

        @Override
        public boolean canDecommit() {
            return decommitter != null;
        }

        @Override
        public synchronized void decommit(long offset, long byteSize) {
            if (decommitter != null && !closed) {
                decommitter.decommit(offset, byteSize);
            }
        }

        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                closer.run();
            }
        }
    }

    /** Anonymous mmap reservation. */
    enum Reserved implements MemorySource {
        INSTANCE;

        /** At most this much address space beyond the cap (1 TiB caps do not reserve 4 TiB). */
        private static final long MAX_SLACK = 64L << 30;

        /** The address space reserved for a cap: the cap plus three times it, at most 64 GiB more. */
        static long rangeFor(long maxBytes) {
            long bytes = maxBytes + Math.min(3 * maxBytes, MAX_SLACK);
            return (bytes + MAX_ALIGNMENT - 1) & -MAX_ALIGNMENT;
        }

        @Override
        public Range open(long maxBytes) {
            if (!NativeMemory.SUPPORTED) {
                throw new IllegalStateException("MemorySource.reserved() needs mmap through FFM downcalls, and "
                        + NativeMemory.UNAVAILABLE + ": run the JVM with --enable-native-access=ALL-UNNAMED (or"
                        + " the name of the module that holds dev.offheap.allocator.offheap), or choose"
                        + " MemorySource.arena(), which commits all of maxBytes at creation");
            }
            long byteSize = rangeFor(maxBytes);
            long alignment = MAX_ALIGNMENT;
            long mapped = byteSize + alignment;
            long start = NativeMemory.reserve(mapped);
            long aligned = (start + alignment - 1) & -alignment;
            Arena arena = Arena.ofShared();
            // Closing the arena first waits until no thread is inside an access (FFM's handshake), then unmaps.
            MemorySegment segment = MemorySegment.ofAddress(aligned)
                    .reinterpret(byteSize, arena, ignored -> NativeMemory.release(start, mapped));
            return new OpenRange(segment, (offset, bytes) -> NativeMemory.decommit(aligned + offset, bytes),
                    NativeMemory.OS_PAGE_BYTES, arena::close);
        }

        @Override
        public String toString() {
            return "reserved address space (mmap)";
        }
    }

    /** One shared-arena allocation. */
    enum ArenaBacked implements MemorySource {
        INSTANCE;

        @Override
        public Range open(long maxBytes) {
            Arena arena = Arena.ofShared();
            MemorySegment segment = arena.allocate(maxBytes & -PAGE_BYTES, MAX_ALIGNMENT);
            // Arena memory cannot be given back piecemeal.
            return new OpenRange(segment, null, PAGE_BYTES, arena::close);
        }

        @Override
        public String toString() {
            return "arena";
        }
    }

    /** A caller's region. */
    record Region(MemorySegment region) implements MemorySource {
        @Override
        public Range open(long maxBytes) {
            long skip = ((region.address() + PAGE_BYTES - 1) & -PAGE_BYTES) - region.address();
            long usable = Math.min(maxBytes, Math.max(0, region.byteSize() - skip)) & -PAGE_BYTES;
            if (usable < 4 * PAGE_BYTES) {
                throw new IllegalArgumentException("MemorySource.of(a region of " + region.byteSize() + " bytes at "
                        + hex(region.address()) + "): from its first 64 KiB boundary it holds " + usable
                        + " bytes in whole 64 KiB pages (with maxBytes " + maxBytes + "); the allocator needs at"
                        + " least " + 4 * PAGE_BYTES);
            }
            // The caller's scope stays in force: if the caller frees the region, accesses throw, never crash.
            MemorySegment segment = region.asSlice(skip, usable);
            // The caller's memory: never decommitted behind the caller's back, and freed by the caller.
            return new OpenRange(segment, null, PAGE_BYTES, () -> { });
        }

        @Override
        public String toString() {
            return "region of " + region.byteSize() + " bytes at " + hex(region.address());
        }
    }
}
