using System.Buffers;
using TokenFormer.Core.PyTorch;
using TokenFormer.Core.SafeTensors;

namespace TokenFormer.Model.Import;

/// <summary>
/// Reads a checked import plan into a new model and writes it as a model directory (config.json + model.safetensors,
/// the same files as <see cref="ModelDirectory.Save"/>) with reading and writing overlapped: a reader thread fills
/// <see cref="TokenFormerModel.Parameters"/> tensor by tensor, in the order the safetensors writer emits them, while
/// the writer streams each tensor as soon as it is complete. No tensor is copied into an intermediate array, so peak
/// memory is the parameter array plus small buffers.
/// </summary>
public static class PipelinedModelWriter
{
    /// <summary>Timings of one <see cref="ReadAndSave"/> call.</summary>
    public sealed record Timings(double ReadSeconds, double TotalSeconds);

    /// <summary>
    /// Allocates the model, reads every tensor of <paramref name="plan"/> from <paramref name="checkpoint"/> and writes
    /// <paramref name="directory"/>. <paramref name="beforeCommit"/> runs after the weights are read and before any
    /// file is renamed into place (e.g. to finish validating a tokenizer); if it throws, nothing is committed.
    /// </summary>
    public static (TokenFormerModel Model, Timings Timings) ReadAndSave(TorchCheckpoint checkpoint, OfficialCheckpointImporter.Plan plan,
        string directory, Action? beforeCommit = null)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var model = new TokenFormerModel(plan.Config);
        // the order SafeTensorsWriter writes: all tensors are F32, so by name (ordinal)
        var order = plan.Tensors.OrderBy(p => p.Target.Name, StringComparer.Ordinal).ToList();
        var gates = order.ToDictionary(p => p.Target.Name, p => new TensorGate(model.Parameters, p.Target.Offset, p.Target.Length));
        double readSeconds = 0;
        var reader = new Thread(() =>
        {
            try
            {
                foreach (var (target, source) in order)
                {
                    checkpoint.ReadFloat32(source, model.Parameters.AsSpan(target.Offset, target.Length));
                    gates[target.Name].Open();
                }
                readSeconds = watch.Elapsed.TotalSeconds;
            }
            catch (Exception e)
            {
                foreach (TensorGate g in gates.Values) g.Fail(e);
            }
        }) { IsBackground = true, Name = "checkpoint reader" };
        reader.Start();

        Directory.CreateDirectory(directory);
        string weights = Path.Combine(directory, ModelDirectory.WeightsFile);
        string staged = weights + ".import-" + Environment.ProcessId;
        try
        {
            var writer = new SafeTensorsWriter();
            foreach (ParameterTensor t in model.Layout.Tensors)
                writer.AddFloat32(t.Name, gates[t.Name].Memory, t.Shape.Select(x => (long)x).ToArray());
            writer.Save(staged);
            reader.Join();
            foreach (TensorGate g in gates.Values) g.ThrowIfFailed();
            beforeCommit?.Invoke();
            File.Move(staged, weights, overwrite: true);
        }
        catch (TensorReadException e)
        {
            reader.Join();
            TryDelete(staged);
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException!).Throw();
            throw;
        }
        catch
        {
            reader.Join();
            TryDelete(staged);
            throw;
        }
        model.Config.Save(Path.Combine(directory, ModelDirectory.ConfigFile));
        return (model, new Timings(readSeconds, watch.Elapsed.TotalSeconds));
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Thrown by a gate whose tensor could not be read; carries the reader's exception.</summary>
    private sealed class TensorReadException(Exception inner) : Exception(inner.Message, inner);

    /// <summary>A slice of the parameter array that can be read (as <see cref="Memory"/>) only once its tensor is complete.</summary>
    private sealed class TensorGate(float[] array, int offset, int length) : MemoryManager<float>
    {
        private readonly ManualResetEventSlim _ready = new(false);
        private Exception? _error;

        public void Open() => _ready.Set();

        public void Fail(Exception e)
        {
            _error ??= e;
            _ready.Set();
        }

        public void ThrowIfFailed()
        {
            if (_error != null) throw new TensorReadException(_error);
        }

        public override Span<float> GetSpan()
        {
            _ready.Wait();
            ThrowIfFailed();
            return array.AsSpan(offset, length);
        }

        public override unsafe MemoryHandle Pin(int elementIndex = 0)
        {
            _ready.Wait();
            ThrowIfFailed();
            var handle = System.Runtime.InteropServices.GCHandle.Alloc(array, System.Runtime.InteropServices.GCHandleType.Pinned);
            float* p = (float*)handle.AddrOfPinnedObject() + offset + elementIndex;
            return new MemoryHandle(p, handle, this);
        }

        public override void Unpin() { }

        protected override void Dispose(bool disposing) => _ready.Dispose();
    }
}
