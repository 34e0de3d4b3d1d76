package dev.offheap.allocator.examples;

// tag::typed-imports[]
import dev.offheap.allocator.cache.OffHeapCacheConfig;
import dev.offheap.allocator.cache.Serializer;
import dev.offheap.allocator.cache.TypedCache;
import dev.offheap.allocator.cache.TypedRemovalListener;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
// end::typed-imports[]

/** README's typed-cache snippet. */
public final class TypedCacheExample {

    private TypedCacheExample() {
    }

    // tag::typed-serializer[]
    record Profile(long id, String name) {
    }

    static final class ProfileSerializer implements Serializer<Profile> {
        public int serializedSize(Profile p) {
            return Long.BYTES + Serializer.utf8().serializedSize(p.name());
        }

        public void serialize(Profile p, MemorySegment dst) {
            dst.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, p.id());
            Serializer.utf8().serialize(p.name(), dst.asSlice(Long.BYTES));
        }

        public Profile deserialize(MemorySegment src) {                   // src: valid during the call only
            return new Profile(src.get(ValueLayout.JAVA_LONG_UNALIGNED, 0),
                    Serializer.utf8().deserialize(src.asSlice(Long.BYTES)));
        }
    }
    // end::typed-serializer[]

    private static Profile loadFromDatabase(String id) {
        return new Profile(42, "Ada " + id);
    }

    public static void main(String[] args) {
        // tag::typed[]
        ProfileSerializer profiles = new ProfileSerializer();
        try (TypedCache<String, Profile> cache = TypedCache.create(new OffHeapCacheConfig()
                .name("profiles")
                .capacityBytes(256L << 20)
                .removalListener(TypedRemovalListener.of(Serializer.utf8(), profiles,
                        (id, profile, cause) -> System.out.println(id + " left: " + cause))),
                Serializer.utf8(), profiles)) {
            Profile p = cache.get("u-17", id -> loadFromDatabase(id));     // loaded and stored on a miss
            cache.compute("u-17", (id, old) -> new Profile(old.id(), old.name().toUpperCase()));
            cache.remove("u-17");
            // end::typed[]
            System.out.println(p);
            // tag::typed-end[]
        }
        // end::typed-end[]
    }
}
