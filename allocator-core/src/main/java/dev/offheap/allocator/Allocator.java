package dev.offheap.allocator;

import java.lang.foreign.MemorySegment;

/**
 * An allocator of native memory, addressed by raw native addresses as C's {@code malloc} is.
 *
 * <p>Simplest use:
 * <pre>{@code
 * try (Allocator allocator = ...) {
 *     long address = allocator.allocate(64);
 *     MemorySegment block = allocator.segment(address);   // bounded to the usable bytes
 *     block.set(ValueLayout.JAVA_LONG, 0, 42L);
 *     allocator.free(address);
 * }
 * }</pre>
 *
 * <p>Every address is a native address ({@link MemorySegment#address()}), never 0, and aligned to at least
 * 16 bytes. Access the memory through {@link #segment(long)}: the view it returns is bounds-checked, so a
 * mistake through it throws instead of corrupting the heap or crashing the JVM.
 *
 * <p><b>Errors.</b> A call that is rejected throws and leaves the allocator exactly as it was: every live
 * block stays intact.
 * <ul>
 *   <li>{@link IllegalArgumentException}: a negative size, a size no block of this allocator can ever hold,
 *       or an alignment that is not a power of two;</li>
 *   <li>{@link InvalidAddressException}: an address this allocator did not return (outside its memory,
 *       inside a block, misaligned), with {@link DoubleFreeException} for a block already freed;</li>
 *   <li>{@link OffHeapOutOfMemoryException}: no space now; the allocator stays usable;</li>
 *   <li>{@link AllocatorClosedException}: any call after {@link #close()}.</li>
 * </ul>
 *
 * <p><b>Threads.</b> Each implementation states its threading contract in the first sentence of its
 * documentation.
 */
public interface Allocator extends AutoCloseable {

    /** The alignment of every address an allocator returns, in bytes. */
    long MIN_ALIGNMENT = 16;

    /**
     * Allocates a block of at least {@code byteSize} usable bytes, aligned to {@value #MIN_ALIGNMENT} bytes.
     * The contents are unspecified (not zeroed). A size of 0 gives a distinct minimal block, as C's
     * {@code malloc(0)} may.
     *
     * @param byteSize the bytes wanted, {@code >= 0}
     * @return the block's native address, never 0
     * @throws IllegalArgumentException if {@code byteSize} is negative or larger than this allocator can hold
     * @throws OffHeapOutOfMemoryException if there is no space for it now
     * @throws AllocatorClosedException after {@link #close()}
     */
    long allocate(long byteSize);

    /**
     * Allocates a block of at least {@code byteSize} usable bytes at an address that is a multiple of
     * {@code byteAlignment}.
     *
     * @param byteSize the bytes wanted, {@code >= 0}
     * @param byteAlignment a power of two; values below {@value #MIN_ALIGNMENT} give {@value #MIN_ALIGNMENT}
     * @return the block's native address, never 0
     * @throws IllegalArgumentException if the size is out of range, or the alignment is not a power of two or
     *         is larger than this allocator supports
     * @throws OffHeapOutOfMemoryException if there is no space for it now
     * @throws AllocatorClosedException after {@link #close()}
     */
    long allocate(long byteSize, long byteAlignment);

    /**
     * Resizes a block as C's {@code realloc} does: the contents are kept up to the smaller of the old and new
     * sizes. The block may move; the returned address replaces {@code address}, which must not be used again
     * unless it is returned. If there is no space the old block is left untouched and still live.
     *
     * @param address an address this allocator returned and that is live
     * @param newByteSize the bytes wanted, {@code >= 0}
     * @return the address of the resized block
     * @throws InvalidAddressException if {@code address} is not a live block of this allocator
     * @throws IllegalArgumentException if {@code newByteSize} is negative or larger than this allocator can hold
     * @throws OffHeapOutOfMemoryException if the block must move and there is no space
     * @throws AllocatorClosedException after {@link #close()}
     */
    long reallocate(long address, long newByteSize);

    /**
     * Frees a block.
     *
     * @param address an address this allocator returned and that is live
     * @throws DoubleFreeException if the block was already freed
     * @throws InvalidAddressException if {@code address} is not the start of a block of this allocator
     * @throws AllocatorClosedException after {@link #close()}
     */
    void free(long address);

    /**
     * The bytes the caller may use at {@code address}: at least the size asked for, maybe more.
     *
     * @throws InvalidAddressException if {@code address} is not a live block of this allocator
     * @throws AllocatorClosedException after {@link #close()}
     */
    long usableSize(long address);

    /**
     * A view of the block's {@linkplain #usableSize(long) usable bytes}; accesses outside it throw
     * {@link IndexOutOfBoundsException}. The view stays valid until the block is freed or moved by
     * {@link #reallocate(long, long)} (it is not invalidated then: that would cost every free; do not use it).
     *
     * @throws InvalidAddressException if {@code address} is not a live block of this allocator
     * @throws AllocatorClosedException after {@link #close()}
     */
    MemorySegment segment(long address);

    /**
     * A snapshot of this allocator's counters. Works after {@link #close()}, to read the final figures: the
     * counters as they were at close ({@code liveBlocks}: the blocks never freed) and every byte figure 0, the
     * memory being released (for a region allocator, also once the region's owner has freed it).
     */
    AllocatorStats stats();

    /**
     * Releases all the memory of this allocator at once; every later call except {@link #stats()} throws
     * {@link AllocatorClosedException}. Closing twice does nothing.
     */
    @Override
    void close();
}
