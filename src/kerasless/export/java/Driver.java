/* Test driver for generated Java models (used by `kerasless export --target java --verify` and the test suite).
 *
 * Build:  javac --release 8 -d CLASSES Driver.java DIR/Model.java [more models, each in its own package]
 * Run:    java -cp CLASSES Driver JOBS
 * JOBS is a text file, one job per line, run in order in this one JVM (JVM start-up is paid once):
 *   predict CLASS IN OUT [WEIGHTS]
 *     IN : int32 in_size, out_size, n_calls; then per call int32 batch, int32 mode (ignored), batch*in_size float32
 *     OUT: per call int32 status (0 ok, 1 IllegalArgumentException, 3 other), batch*out_size float32;
 *          then float32 selfTest()
 *   stream CLASS IN OUT [WEIGHTS]
 *     IN : int32 step_in, step_out, n_seqs, steps; then n_seqs*steps*step_in float32
 *     OUT: n_seqs*steps*step_out float32 (a new CLASS.Stream per sequence, reset() and reused for the second
 *          half of the sequences); then float32 nanoseconds per step of the last sequence
 * All numbers little-endian. CLASS is the fully qualified class name; WEIGHTS calls CLASS.loadWeights first.
 */
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;

public final class Driver {
    private Driver() {
    }

    public static void main(String[] args) throws Exception {
        final List<String> jobs = Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8);
        for (String line : jobs) {
            final String[] f = line.trim().split("\\s+");
            if (f.length < 4) continue;
            final Class<?> cls = Class.forName(f[1]);
            if (f.length > 4) cls.getMethod("loadWeights", String.class).invoke(null, f[4]);
            final ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(Paths.get(f[2]))).order(ByteOrder.LITTLE_ENDIAN);
            final byte[] out = "stream".equals(f[0]) ? stream(f[1], in) : predict(cls, in);
            Files.write(Paths.get(f[3]), out);
        }
    }

    private static float[] floats(ByteBuffer in, int n) {
        final float[] a = new float[n];
        in.asFloatBuffer().get(a);
        in.position(in.position() + 4 * n);
        return a;
    }

    private static byte[] predict(Class<?> cls, ByteBuffer in) throws Exception {
        final Method predict = cls.getMethod("predict", float[].class, int.class);
        final int inSize = in.getInt(), outSize = in.getInt(), calls = in.getInt();
        ByteBuffer buf = ByteBuffer.allocate(1 << 12).order(ByteOrder.LITTLE_ENDIAN);
        for (int c = 0; c < calls; ++c) {
            final int batch = in.getInt();
            in.getInt(); // mode
            final float[] x = floats(in, batch * inSize);
            float[] y = new float[batch * outSize];
            int status = 0;
            try {
                y = (float[]) predict.invoke(null, x, batch);
            } catch (InvocationTargetException e) {
                status = e.getCause() instanceof IllegalArgumentException ? 1 : 3;
                System.err.println(e.getCause());
            }
            buf = ensure(buf, 4 + 4 * y.length);
            buf.putInt(status);
            for (float v : y) buf.putFloat(v);
        }
        final float diff = (Float) cls.getMethod("selfTest").invoke(null);
        buf = ensure(buf, 4);
        buf.putFloat(diff);
        return java.util.Arrays.copyOf(buf.array(), buf.position());
    }

    private static byte[] stream(String name, ByteBuffer in) throws Exception {
        final Class<?> cls = Class.forName(name + "$Stream");
        final Constructor<?> make = cls.getConstructor();
        final Method step = cls.getMethod("step", float[].class), reset = cls.getMethod("reset");
        final int stepIn = in.getInt(), stepOut = in.getInt(), seqs = in.getInt(), steps = in.getInt();
        ByteBuffer buf = ByteBuffer.allocate(4 * (seqs * steps * stepOut + 1)).order(ByteOrder.LITTLE_ENDIAN);
        Object stream = null;
        double nsPerStep = 0;
        for (int s = 0; s < seqs; ++s) {
            if (s == 0 || s < seqs / 2) stream = make.newInstance(); // the rest reuse one stream via reset()
            else reset.invoke(stream);
            final long t0 = System.nanoTime();
            for (int t = 0; t < steps; ++t) {
                final float[] y = (float[]) step.invoke(stream, (Object) floats(in, stepIn));
                if (y.length != stepOut) throw new IOException("step returned " + y.length + " floats");
                for (float v : y) buf.putFloat(v);
            }
            nsPerStep = (System.nanoTime() - t0) / (double) Math.max(1, steps);
        }
        buf.putFloat((float) nsPerStep);
        return buf.array();
    }

    private static ByteBuffer ensure(ByteBuffer b, int more) {
        if (b.remaining() >= more) return b;
        final ByteBuffer n = ByteBuffer.allocate(Math.max(2 * b.capacity(), b.position() + more))
                .order(ByteOrder.LITTLE_ENDIAN);
        b.flip();
        n.put(b);
        return n;
    }
}
