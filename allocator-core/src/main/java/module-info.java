/**
 * The allocator API ({@link dev.offheap.allocator.Allocator}), the project's size classes, and the classic
 * allocators of the seed articles over a caller-supplied region ({@link dev.offheap.allocator.region}).
 */
module dev.offheap.allocator.core {
    requires org.agrona;

    exports dev.offheap.allocator;
    exports dev.offheap.allocator.region;
    // Argument checks and message formatting shared with the production allocator; not public API.
    exports dev.offheap.allocator.internal to dev.offheap.allocator.offheap;
}
