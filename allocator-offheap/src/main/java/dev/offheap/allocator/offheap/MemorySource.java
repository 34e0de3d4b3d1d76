package dev.offheap.allocator.offheap;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

import static dev.offheap.allocator.internal.Checks.hex;

/**
 * Where an {@link OffHeapAllocator}'s memory comes from: one contiguous range, so that a block's metadata
 * is found from its address by arithmetic.
 *
 * <ul>
 *   <li>{@link #reserved()} (the default): address space reserved with anonymous {@code mmap}
 *       ({@code MAP_NORESERVE}), backed by memory only where touched, handed back with
 *       {@code madvise(MADV_DONTNEED)} and unmapped on close. Linux and macOS.</li>
 *   <li>{@link #of(MemorySegment)} / {@link #of(ByteBuffer)}: a caller's native region (a memory-mapped
 *       file, a shared-memory segment, a direct buffer). Every byte the allocator hands out, thread caches
 *       and huge blocks included, comes from that region; nothing is given back to the OS (it is the
 *       caller's), and closing the allocator leaves the region to its owner.</li>
 *   <li>{@link #arena()}: the portable fallback, one {@code Arena.ofShared()} allocation: committed at once
 *       and never decommitted.</li>
 * </ul>
 *
 * <p>Sources are descriptions; each allocator opens its own range from one. Thread-safe.
 */
public sealed interface MemorySource {

    /** Reserved address space through {@code mmap}, or {@link #arena()} where mmap is not available. */
    static MemorySource reserved() {
        return Reserved.INSTANCE;
    }

    /** The portable fallback: one shared-arena allocation of the whole capacity. */
    static MemorySource arena() {
        return ArenaBacked.INSTANCE;
    }

    /**
     * A caller's native region. The allocator uses all of it (capacity = the region's size, or
     * {@code maxBytes} if smaller) and formats nothing outside it.
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

    /** Opens a range of at least {@code byteSize} bytes (a region gives what it has) aligned to {@code alignment}. */
    Range open(long byteSize, long alignment);

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
        private final Runnable closer;
        private boolean closed;

        OpenRange(MemorySegment segment, Decommitter decommitter, Runnable closer) {
            this.segment = segment;
            this.decommitter = decommitter;
            this.closer = closer;
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

        @Override
        public Range open(long byteSize, long alignment) {
            if (!NativeMemory.SUPPORTED) {
                return ArenaBacked.INSTANCE.open(byteSize, alignment);
            }
            long mapped = byteSize + alignment;
            long start = NativeMemory.reserve(mapped);
            long aligned = (start + alignment - 1) & -alignment;
            Arena arena = Arena.ofShared();
            // Closing the arena first waits until no thread is inside an access (FFM's handshake), then unmaps.
            MemorySegment segment = MemorySegment.ofAddress(aligned)
                    .reinterpret(byteSize, arena, ignored -> NativeMemory.release(start, mapped));
            return new OpenRange(segment, (offset, bytes) -> NativeMemory.decommit(aligned + offset, bytes),
                    arena::close);
        }

        @Override
        public String toString() {
            return NativeMemory.SUPPORTED ? "reserved address space (mmap)" : "arena (mmap unavailable here)";
        }
    }

    /** One shared-arena allocation. */
    enum ArenaBacked implements MemorySource {
        INSTANCE;

        @Override
        public Range open(long byteSize, long alignment) {
            Arena arena = Arena.ofShared();
            MemorySegment segment = arena.allocate(byteSize, alignment);
            // Arena memory cannot be given back piecemeal.
            return new OpenRange(segment, null, arena::close);
        }

        @Override
        public String toString() {
            return "arena";
        }
    }

    /** A caller's region. */
    record Region(MemorySegment region) implements MemorySource {
        @Override
        public Range open(long byteSize, long alignment) {
            long skip = ((region.address() + alignment - 1) & -alignment) - region.address();
            if (skip >= region.byteSize()) {
                throw new IllegalArgumentException("a region of " + region.byteSize() + " bytes at "
                        + hex(region.address()) + " holds no " + alignment + "-byte aligned span");
            }
            long usable = Math.min(byteSize, (region.byteSize() - skip) & -alignment);
            // The caller's scope stays in force: if the caller frees the region, accesses throw, never crash.
            MemorySegment segment = region.asSlice(skip, usable);
            // The caller's memory: never decommitted behind the caller's back, and freed by the caller.
            return new OpenRange(segment, null, () -> { });
        }

        @Override
        public String toString() {
            return "region of " + region.byteSize() + " bytes at " + hex(region.address());
        }
    }
}
