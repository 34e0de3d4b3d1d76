package dev.offheap.allocator.cache;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** The serializers {@link Serializer}'s static methods return. */
final class BuiltinSerializers {
    private static final ValueLayout.OfLong LONG_BE = ValueLayout.JAVA_LONG_UNALIGNED
            .withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt INT_BE = ValueLayout.JAVA_INT_UNALIGNED
            .withOrder(ByteOrder.BIG_ENDIAN);

    static final Serializer<byte[]> BYTES = new Serializer<>() {
        @Override
        public int serializedSize(byte[] value) {
            return value.length;
        }

        @Override
        public void serialize(byte[] value, MemorySegment dst) {
            MemorySegment.copy(value, 0, dst, ValueLayout.JAVA_BYTE, 0, value.length);
        }

        @Override
        public byte[] deserialize(MemorySegment src) {
            return src.toArray(ValueLayout.JAVA_BYTE);
        }

        @Override
        public String toString() {
            return "Serializer.bytes()";
        }
    };

    static final Serializer<String> UTF8 = new Serializer<>() {
        @Override
        public int serializedSize(String value) {
            return utf8Length(value);
        }

        @Override
        public void serialize(String value, MemorySegment dst) {
            byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
            MemorySegment.copy(bytes, 0, dst, ValueLayout.JAVA_BYTE, 0, bytes.length);
        }

        @Override
        public String deserialize(MemorySegment src) {
            return new String(src.toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        }

        @Override
        public String toString() {
            return "Serializer.utf8()";
        }
    };

    static final Serializer<Long> INT64 = new Serializer<>() {
        @Override
        public int serializedSize(Long value) {
            return Long.BYTES;
        }

        @Override
        public void serialize(Long value, MemorySegment dst) {
            dst.set(LONG_BE, 0, value);
        }

        @Override
        public Long deserialize(MemorySegment src) {
            return src.get(LONG_BE, 0);
        }

        @Override
        public String toString() {
            return "Serializer.int64()";
        }
    };

    static final Serializer<Integer> INT32 = new Serializer<>() {
        @Override
        public int serializedSize(Integer value) {
            return Integer.BYTES;
        }

        @Override
        public void serialize(Integer value, MemorySegment dst) {
            dst.set(INT_BE, 0, value);
        }

        @Override
        public Integer deserialize(MemorySegment src) {
            return src.get(INT_BE, 0);
        }

        @Override
        public String toString() {
            return "Serializer.int32()";
        }
    };

    private BuiltinSerializers() {
    }

    /** UTF-8's length of {@code s} without encoding it (unpaired surrogates count as '?', as getBytes does). */
    static int utf8Length(String s) {
        int bytes = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                bytes++;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length()
                    && Character.isLowSurrogate(s.charAt(i + 1))) {
                bytes += 4;
                i++;
            } else if (Character.isSurrogate(c)) {
                bytes++; // encoded as '?'
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }
}
