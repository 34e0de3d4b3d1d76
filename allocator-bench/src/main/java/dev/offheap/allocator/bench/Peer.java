package dev.offheap.allocator.bench;

import dev.offheap.allocator.Allocator;
import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.LeakDetection;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;
import dev.offheap.allocator.offheap.MemorySource;
import dev.offheap.allocator.region.BuddyAllocator;
import dev.offheap.allocator.region.BumpAllocator;
import dev.offheap.allocator.region.ExplicitListAllocator;
import dev.offheap.allocator.region.ImplicitListAllocator;
import dev.offheap.allocator.region.RegionAllocator;
import dev.offheap.allocator.region.SegregatedListAllocator;
import dev.offheap.allocator.region.SlabAllocator;
import dev.offheap.allocator.netty.OffHeapByteBufAllocator;
import io.netty.buffer.AdaptiveByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;

/**
 * One allocator under test, behind one small interface so that every workload runs every peer the same way:
 * {@link #allocate} returns a handle (an address, or an index into {@link #objects} for peers whose blocks are
 * Java objects), {@link #touch} writes the first and last byte, {@link #free} gives it back.
 *
 * <p>Each instance is used by the threads its workload says; the peers' own thread-safety applies.
 */
public abstract class Peer implements AutoCloseable {

    /** The peers by name, as the harness and JMH {@code @Param}s spell them. */
    public static Peer create(String name, long regionBytes, long maxBlockBytes) {
        return switch (name) {
            case "offheap" -> new OfAllocator(name, OffHeapAllocator.create(new OffHeapAllocatorConfig()
                    .name("bench").maxBytes(Math.max(regionBytes, 64L << 20))));
            case "offheap-debug" -> new OfAllocator(name, OffHeapAllocator.create(new OffHeapAllocatorConfig()
                    .name("bench-debug").debugLevel(1).maxBytes(Math.max(regionBytes, 64L << 20))));
            case "offheap-sampled" -> new OfAllocator(name, OffHeapAllocator.create(new OffHeapAllocatorConfig()
                    .name("bench-sampled").leakDetection(LeakDetection.SAMPLED)
                    .maxBytes(Math.max(regionBytes, 64L << 20))));
            case "offheap-nocache" -> new OfAllocator(name, OffHeapAllocator.create(new OffHeapAllocatorConfig()
                    .name("bench-nocache").threadCaching(false).maxBytes(Math.max(regionBytes, 64L << 20))));
            case "bump" -> new OfAllocator(name, BumpAllocator.over(region(regionBytes)));
            case "implicit" -> new OfAllocator(name, ImplicitListAllocator.over(region(regionBytes)));
            case "explicit" -> new OfAllocator(name, ExplicitListAllocator.over(region(regionBytes)));
            case "segregated" -> new OfAllocator(name, SegregatedListAllocator.over(region(regionBytes)));
            case "buddy" -> new OfAllocator(name, BuddyAllocator.over(region(regionBytes)));
            case "slab" -> new OfAllocator(name, SlabAllocator.over(region(regionBytes), maxBlockBytes));
            case "malloc" -> new Malloc(name);
            case "malloc-downcall" -> new MallocStandardDowncall(name);
            case "netty-pooled" -> new Netty(name, PooledByteBufAllocator.DEFAULT);
            case "netty-adaptive" -> new Netty(name, new AdaptiveByteBufAllocator(true, false));
            case "netty-offheap" -> new Netty(name, new OffHeapByteBufAllocator(OffHeapAllocator.create(
                    new OffHeapAllocatorConfig().name("bench-netty").maxBytes(Math.max(regionBytes, 64L << 20)))));
            case "arena-confined" -> new ArenaPerAllocation(name, false);
            case "arena-shared" -> new ArenaPerAllocation(name, true);
            case "allocate-direct" -> new AllocateDirect(name);
            default -> throw new IllegalArgumentException("unknown peer '" + name + "'");
        };
    }

    /**
     * A region of reserved address space (mmap), so that resident memory shows what an allocator touched; the
     * source reserves more than asked, and the rest stays untouched address space.
     */
    private static MemorySegment region(long bytes) {
        return MemorySource.reserved().open(bytes).segment().asSlice(0, bytes);
    }

    final String name;

    Peer(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    /** Allocates {@code size} bytes; returns a handle for {@link #touch} and {@link #free}. */
    public abstract long allocate(long size);

    /** Writes the first and the last byte of the block. */
    public abstract void touch(long handle, long size);

    public abstract void free(long handle);

    /** Whether any thread may allocate and free, and free what another thread allocated. */
    public boolean threadSafe() {
        return true;
    }

    /**
     * Resizes as C's realloc does. The default allocates, frees and does not copy: only the peers that can
     * resize for real override it.
     */
    public long reallocate(long handle, long oldSize, long newSize) {
        long moved = allocate(newSize);
        free(handle);
        return moved;
    }

    /** Allocates at an alignment where the peer supports it; the default ignores the alignment. */
    public long allocateAligned(long size, long alignment) {
        return allocate(size);
    }

    /** All of memory, for writing to the raw addresses of the address-handle peers (benchmark code only). */
    private static final MemorySegment EVERYTHING = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    /** Writes the first and last byte of a block at a raw address. */
    static void touchAddress(long address, long size) {
        if (size > 0) {
            EVERYTHING.set(ValueLayout.JAVA_BYTE, address, (byte) 1);
            EVERYTHING.set(ValueLayout.JAVA_BYTE, address + size - 1, (byte) 2);
        }
    }

    /** Frees every block of {@code handles}. */
    public void freeAll(long[] handles) {
        for (long handle : handles) {
            free(handle);
        }
    }

    /** Committed bytes if the peer can tell, else -1. */
    public long committedBytes() {
        return -1;
    }

    @Override
    public void close() {
    }

    /** Any of our {@link Allocator}s. */
    static final class OfAllocator extends Peer {
        final Allocator allocator;

        OfAllocator(String name, Allocator allocator) {
            super(name);
            this.allocator = allocator;
        }

        @Override
        public long allocate(long size) {
            return allocator.allocate(size);
        }

        @Override
        public void touch(long handle, long size) {
            touchAddress(handle, size);
        }

        @Override
        public void free(long handle) {
            allocator.free(handle);
        }

        @Override
        public long reallocate(long handle, long oldSize, long newSize) {
            return allocator.reallocate(handle, newSize);
        }

        @Override
        public long allocateAligned(long size, long alignment) {
            return allocator.allocate(size, alignment);
        }

        /**
         * A region allocator's region counts as committed whole; resident memory says what it touched. The
         * production allocator's figure is read without its locks: the trace replays sample it every millisecond.
         */
        @Override
        public long committedBytes() {
            return allocator instanceof OffHeapAllocator offHeap ? offHeap.committedBytes()
                    : allocator instanceof RegionAllocator ? -1 : allocator.stats().committedBytes();
        }

        @Override
        public void close() {
            allocator.close();
        }
    }

    /** The C library's malloc and free, through FFM downcalls (glibc, or whatever LD_PRELOAD put in front). */
    static final class Malloc extends Peer {
        private static final MethodHandle MALLOC;
        private static final MethodHandle FREE;
        private static final MethodHandle REALLOC;
        private static final MethodHandle ALIGNED_ALLOC;
        static {
            Linker linker = Linker.nativeLinker();
            MALLOC = linker.downcallHandle(linker.defaultLookup().find("malloc").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG), Linker.Option.critical(false));
            FREE = linker.downcallHandle(linker.defaultLookup().find("free").orElseThrow(),
                    FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG), Linker.Option.critical(false));
            REALLOC = linker.downcallHandle(linker.defaultLookup().find("realloc").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
                    Linker.Option.critical(false));
            ALIGNED_ALLOC = linker.downcallHandle(linker.defaultLookup().find("aligned_alloc").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
                    Linker.Option.critical(false));
        }

        Malloc(String name) {
            super(name);
        }

        @Override
        public long allocate(long size) {
            return requireBlock(call(MALLOC, size), size);
        }

        @Override
        public void touch(long handle, long size) {
            touchAddress(handle, size);
        }

        @Override
        public void free(long handle) {
            callVoid(FREE, handle);
        }

        /**
         * The block malloc returned, or an error: a null block must not reach {@link #touchAddress}, which would
         * write at {@code size - 1} through the unbounded segment.
         */
        static long requireBlock(long address, long size) {
            if (address == 0 && size > 0) {
                throw new OutOfMemoryError("malloc(" + size + ") returned NULL");
            }
            return address;
        }

        /** {@code long f(long)}; the handle is a static final at every call site, so the JIT inlines it. */
        static long call(MethodHandle function, long argument) {
            try {
                return (long) function.invokeExact(argument);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        /** {@code void f(long)}, as {@link #call}. */
        static void callVoid(MethodHandle function, long argument) {
            try {
                function.invokeExact(argument);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        @Override
        public long reallocate(long handle, long oldSize, long newSize) {
            try {
                return requireBlock((long) REALLOC.invokeExact(handle, newSize), newSize);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        @Override
        public long allocateAligned(long size, long alignment) {
            try {
                return requireBlock((long) ALIGNED_ALLOC.invokeExact(alignment, (size + alignment - 1) & -alignment),
                        size);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
    }

    /**
     * glibc's malloc and free through standard downcalls, as most FFM code calls them: without
     * {@code Linker.Option.critical}, so each call makes the thread-state transition to native and back. The
     * {@link Malloc} peer, the tables' baseline, uses critical downcalls: the strongest malloc there is from Java,
     * though the option is meant for functions that are short in all cases, which malloc is not.
     */
    static final class MallocStandardDowncall extends Peer {
        private static final MethodHandle MALLOC;
        private static final MethodHandle FREE;
        static {
            Linker linker = Linker.nativeLinker();
            MALLOC = linker.downcallHandle(linker.defaultLookup().find("malloc").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
            FREE = linker.downcallHandle(linker.defaultLookup().find("free").orElseThrow(),
                    FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG));
        }

        MallocStandardDowncall(String name) {
            super(name);
        }

        @Override
        public long allocate(long size) {
            return Malloc.requireBlock(Malloc.call(MALLOC, size), size);
        }

        @Override
        public void touch(long handle, long size) {
            touchAddress(handle, size);
        }

        @Override
        public void free(long handle) {
            Malloc.callVoid(FREE, handle);
        }
    }

    /** Peers whose blocks are Java objects: the handle indexes a table of them. Single-threaded use. */
    abstract static class ObjectPeer<T> extends Peer {
        private Object[] objects = new Object[1024];
        private int[] freeIndexes = new int[1024];
        private int freeCount;
        private int next;

        ObjectPeer(String name) {
            super(name);
        }

        @Override
        public boolean threadSafe() {
            return false; // the handle table
        }

        final long put(T object) {
            int index;
            if (freeCount > 0) {
                index = freeIndexes[--freeCount];
            } else {
                if (next == objects.length) {
                    objects = java.util.Arrays.copyOf(objects, next * 2);
                    freeIndexes = java.util.Arrays.copyOf(freeIndexes, next * 2);
                }
                index = next++;
            }
            objects[index] = object;
            return index;
        }

        @SuppressWarnings("unchecked")
        final T get(long handle) {
            return (T) objects[(int) handle];
        }

        @SuppressWarnings("unchecked")
        final T take(long handle) {
            T object = (T) objects[(int) handle];
            objects[(int) handle] = null;
            freeIndexes[freeCount++] = (int) handle;
            return object;
        }
    }

    /** Netty's direct buffers: allocate, release. */
    static final class Netty extends ObjectPeer<ByteBuf> {
        private final ByteBufAllocator allocator;

        Netty(String name, ByteBufAllocator allocator) {
            super(name);
            this.allocator = allocator;
        }

        @Override
        public long allocate(long size) {
            return put(allocator.directBuffer((int) size, (int) size));
        }

        @Override
        public void touch(long handle, long size) {
            if (size > 0) {
                ByteBuf buffer = get(handle);
                buffer.setByte(0, 1);
                buffer.setByte((int) size - 1, 2);
            }
        }

        @Override
        public void free(long handle) {
            take(handle).release();
        }

        @Override
        public long reallocate(long handle, long oldSize, long newSize) {
            ByteBuf buffer = get(handle);
            if (newSize > buffer.maxCapacity()) {
                ByteBuf grown = allocator.directBuffer((int) newSize, (int) newSize);
                grown.writeBytes(buffer, 0, (int) Math.min(oldSize, buffer.capacity()));
                take(handle).release();
                return put(grown);
            }
            buffer.capacity((int) newSize);
            return handle;
        }
    }

    /** One {@link Arena} per allocation, closed to free it. */
    static final class ArenaPerAllocation extends ObjectPeer<Arena> {
        private final boolean shared;

        ArenaPerAllocation(String name, boolean shared) {
            super(name);
            this.shared = shared;
        }

        @Override
        public long allocate(long size) {
            Arena arena = shared ? Arena.ofShared() : Arena.ofConfined();
            long address = arena.allocate(Math.max(size, 1), 16).address();
            long handle = put(arena);
            return (handle << 48) | (address & 0xFFFF_FFFF_FFFFL);
        }

        @Override
        public void touch(long handle, long size) {
            touchAddress(handle & 0xFFFF_FFFF_FFFFL, size);
        }

        @Override
        public void free(long handle) {
            take(handle >>> 48).close();
        }
    }

    /** {@code ByteBuffer.allocateDirect}: freed by the GC (the cleaner), not by the caller. */
    static final class AllocateDirect extends ObjectPeer<ByteBuffer> {
        AllocateDirect(String name) {
            super(name);
        }

        @Override
        public long allocate(long size) {
            return put(ByteBuffer.allocateDirect((int) size));
        }

        @Override
        public void touch(long handle, long size) {
            if (size > 0) {
                ByteBuffer buffer = get(handle);
                buffer.put(0, (byte) 1);
                buffer.put((int) size - 1, (byte) 2);
            }
        }

        @Override
        public void free(long handle) {
            take(handle);
        }
    }
}
