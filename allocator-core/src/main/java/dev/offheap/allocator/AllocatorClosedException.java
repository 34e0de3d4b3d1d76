package dev.offheap.allocator;

/** Thrown by any call on an allocator after {@link Allocator#close()}. */
public class AllocatorClosedException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public AllocatorClosedException(String message) {
        super(message);
    }
}
