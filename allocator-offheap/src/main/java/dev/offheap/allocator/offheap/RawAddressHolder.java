package dev.offheap.allocator.offheap;

/**
 * Something outside an {@link OffHeapAllocator} that hands its blocks' raw addresses to accesses the allocator
 * cannot check (Netty's Unsafe buffers, a native transport writing from {@code memoryAddress()}). Such an access
 * after {@link OffHeapAllocator#close()} unmapped the memory would crash the JVM, so while any registered holder
 * ({@link OffHeapAllocator#addRawAddressHolder}) says it holds addresses, close() leaves the memory mapped (every
 * call on the allocator throws all the same), logs a warning, and the memory goes when the holder calls
 * {@link OffHeapAllocator#rawAddressesReleased()} with none held any more.
 */
@FunctionalInterface
public interface RawAddressHolder {
    /** Whether raw addresses of blocks are held now; read after {@code close()} has marked the allocator closed. */
    boolean holdsRawAddresses();
}
