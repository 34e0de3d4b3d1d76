package dev.offheap.allocator;

/**
 * Thrown when an address passed to {@code free}, {@code reallocate}, {@code usableSize} or {@code segment}
 * is not a live block of the allocator: outside its memory, inside a block, misaligned, or already freed
 * ({@link DoubleFreeException}). The allocator is left unchanged.
 */
public class InvalidAddressException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final long address;

    public InvalidAddressException(long address, String message) {
        super(message);
        this.address = address;
    }

    /** The address that was rejected. */
    public long address() {
        return address;
    }
}
