package dev.offheap.allocator;

/** Thrown when a block is freed (or used) after it was already freed. The allocator is left unchanged. */
public class DoubleFreeException extends InvalidAddressException {
    private static final long serialVersionUID = 1L;

    public DoubleFreeException(long address, String message) {
        super(address, message);
    }
}
