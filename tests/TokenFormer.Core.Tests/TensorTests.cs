using TokenFormer.Core.Tensors;

namespace TokenFormer.Core.Tests;

public unsafe class TensorTests
{
    [Fact]
    public void Shape_CountsAndFormats()
    {
        var s = new TensorShape(2, 3, 4);
        Assert.Equal(3, s.Rank);
        Assert.Equal(24, s.ElementCount);
        Assert.Equal(2, s.Rows);
        Assert.Equal(12, s.RowLength);
        Assert.Equal("[2, 3, 4]", s.ToString());
        Assert.Equal(new TensorShape(2, 5, 4), s.WithDimension(1, 5));
        Assert.Equal(1, default(TensorShape).ElementCount);
        Assert.Equal(new TensorShape(7, 1), TensorShape.Of([7, 1]));
        Assert.Throws<ArgumentException>(() => new TensorShape(2, -1));
        Assert.Throws<ArgumentException>(() => new TensorShape(65536, 65536));
        Assert.Throws<ArgumentOutOfRangeException>(() => s[3]);
    }

    [Fact]
    public void Tensor_IsZeroedAlignedAndRowMajor()
    {
        using var t = new Tensor(3, 5);
        Assert.Equal(0, (long)t.Data % 64);
        Assert.All(t.Span.ToArray(), v => Assert.Equal(0f, v));
        for (int i = 0; i < 15; i++) t.Span[i] = i;
        Assert.Equal(7f, t.View[1, 2]);
        Assert.Equal(new float[] { 10, 11, 12, 13, 14 }, t.Row(2).ToArray());
        TensorView rows = t.RowSlice(1, 2);
        Assert.Equal(new TensorShape(2, 5), rows.Shape);
        Assert.Equal(5f, rows.Span[0]);
        rows[1, 4] = -1f;
        Assert.Equal(-1f, t.Span[14]);
        t.Dispose();
        Assert.Throws<ObjectDisposedException>(() => t.Span.Length);
    }

    [Fact]
    public void View_SlicesInnerAxesWithStrides()
    {
        using var t = new Tensor(2, 3, 4);
        for (int i = 0; i < 24; i++) t.Span[i] = i;
        TensorView v = t.View;
        Assert.True(v.IsContiguous);
        Assert.Equal(12, v.Stride(0));
        Assert.Equal(4, v.Stride(1));
        TensorView inner = v.Slice(2, 1, 2);          // [2, 3, 2], strided
        Assert.False(inner.IsContiguous);
        Assert.Equal(new TensorShape(2, 3, 2), inner.Shape);
        Assert.Equal(1 * 12 + 2 * 4 + 1 + 1, inner[1, 2, 1]);
        Assert.Throws<InvalidOperationException>(() => inner.Span.Length);
        Assert.Throws<InvalidOperationException>(() => inner.Row(0).Length);
        TensorView middle = v.Slice(1, 1, 1);         // [2, 1, 4]: rows of 4 contiguous floats
        Assert.Equal(new float[] { 16, 17, 18, 19 }, middle.Row(1).ToArray());
        Assert.Equal(new TensorShape(6, 4), v.Reshape(new TensorShape(6, 4)).Shape);
        Assert.Throws<ArgumentException>(() => v.Reshape(new TensorShape(5, 4)));
        Assert.Throws<ArgumentOutOfRangeException>(() => v.RowSlice(1, 2));
        Assert.Throws<IndexOutOfRangeException>(() => v[2, 0, 0]);
    }

    [Fact]
    public void Arena_AlignsGrowsThenSettlesIntoOneBlock()
    {
        using var arena = new TensorArena(initialFloats: 100);
        for (int step = 0; step < 5; step++)
        {
            arena.Reset();
            TensorView a = arena.Allocate(3, 7);
            TensorView b = arena.Allocate(1000);
            TensorView c = arena.AllocateZeroed(new TensorShape(5, 5, 5));
            Span<float> scratch = arena.AllocateSpan(33);
            foreach (nint p in new[] { (nint)a.Pointer, (nint)b.Pointer, (nint)c.Pointer })
                Assert.Equal(0, p % 64);
            Assert.All(c.Span.ToArray(), v => Assert.Equal(0f, v));
            a.Span.Fill(1f); b.Span.Fill(2f); scratch.Fill(4f);
            Assert.All(a.Span.ToArray(), v => Assert.Equal(1f, v));   // no overlap between allocations
            Assert.All(b.Span.ToArray(), v => Assert.Equal(2f, v));
            Assert.All(c.Span.ToArray(), v => Assert.Equal(0f, v));
        }
        Assert.Equal(1, arena.Growths >= 1 ? 1 : 0);
        int settled = arena.Growths;
        arena.Reset();
        arena.Allocate(3, 7); arena.Allocate(1000); arena.Allocate(5, 5, 5); arena.AllocateSpan(33);
        Assert.Equal(settled, arena.Growths);
        Assert.True(arena.Capacity >= arena.Used);
    }

    [Fact]
    public void Arena_SteadyStateAllocatesNothingOnTheManagedHeap()
    {
        using var arena = new TensorArena(initialFloats: 16);
        void Step()
        {
            arena.Reset();
            TensorView x = arena.Allocate(64, 257);
            TensorView y = arena.AllocateZeroed(new TensorShape(64, 257));
            TensorView rows = x.RowSlice(3, 10);
            rows.Row(2)[5] = 1f;
            y.Slice(1, 4, 100).Row(7)[0] = x[5, 7];
            arena.AllocateSpan(1000).Fill(3f);
        }
        for (int i = 0; i < 3; i++) Step();   // warm-up: the arena grows, lists grow, JIT compiles
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) Step();
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
    }

    [Fact]
    public void Arena_RejectsUseAfterDispose()
    {
        var arena = new TensorArena();
        arena.Dispose();
        Assert.Throws<ObjectDisposedException>(() => arena.Allocate(4));
        Assert.Throws<ObjectDisposedException>(() => arena.Reset());
    }
}
