using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TokenFormer.Model;
using TokenFormer.Model.Export.Onnx;

namespace TokenFormer.Bench.OnnxRuntime;

/// <summary>
/// ONNX Runtime (CPU execution provider) running our exported graph (<see cref="OnnxExporter"/>, logits of the last
/// position only, as our runner computes them) for <c>bench generate --runtime onnxruntime</c>: intra-op threads = the
/// bench's thread count, sequential execution, all graph optimisations. Between decode steps the present key/value
/// OrtValues are fed back as the next step's past without copying them through managed arrays.
/// </summary>
public sealed class OnnxRuntimePeer : IGenerationPeer
{
    private InferenceSession? _session;
    private TokenFormerConfig _config = null!;
    private string[] _inputNames = [], _outputNames = [];
    private readonly RunOptions _run = new();

    public string Name => "onnxruntime";

    public string Description { get; private set; } = "";

    public void Load(TokenFormerModel model, int threads)
    {
        _config = model.Config;
        string dir = Directory.CreateTempSubdirectory("tokenformer-ort-bench-").FullName;
        string path = Path.Combine(dir, "model.onnx");
        try
        {
            var export = Stopwatch.StartNew();
            OnnxExporter.Export(model, path, new OnnxExportOptions { LastPositionLogitsOnly = true });
            double exportSeconds = export.Elapsed.TotalSeconds;
            long bytes = new FileInfo(path).Length;
            var options = new SessionOptions
            {
                IntraOpNumThreads = threads,
                InterOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            };
            var load = Stopwatch.StartNew();
            _session = new InferenceSession(path, options);
            Description = $"ONNX Runtime {OrtEnv.Instance().GetVersionString()} CPU, {threads} intra-op threads, graph exported in {exportSeconds:F1} s " +
                $"({bytes / 1e6:F0} MB, weights inline), session created in {load.Elapsed.TotalSeconds:F1} s";
        }
        finally
        {
            // the session holds the weights; the file is not needed any more
            Directory.Delete(dir, recursive: true);
        }
        int layers = _config.NumLayers;
        _inputNames = new[] { "input_ids", "position_ids" }
            .Concat(Enumerable.Range(0, layers).SelectMany(l => new[] { OnnxExporter.PastKey(l), OnnxExporter.PastValue(l) })).ToArray();
        _outputNames = new[] { "logits" }
            .Concat(Enumerable.Range(0, layers).SelectMany(l => new[] { OnnxExporter.PresentKey(l), OnnxExporter.PresentValue(l) })).ToArray();
    }

    public int Prefill(int[] tokens)
    {
        using Step step = Run(tokens, 0, null);
        return step.ArgMax();
    }

    public int[] Decode(int[] prompt, int newTokens, long[] stamps)
    {
        var output = new int[newTokens];
        Step step = Run(prompt, 0, null);
        try
        {
            int position = prompt.Length;
            for (int i = 0; ; i++)
            {
                output[i] = step.ArgMax();
                stamps[i] = Stopwatch.GetTimestamp();
                if (i == newTokens - 1) break;
                Step next = Run([output[i]], position++, step);
                step.Dispose();
                step = next;
            }
        }
        finally { step.Dispose(); }
        return output;
    }

    /// <summary>One call of the graph for one sequence: tokens at positions start…, past from <paramref name="previous"/> (null: empty).</summary>
    private Step Run(int[] tokens, int start, Step? previous)
    {
        int t = tokens.Length, layers = _config.NumLayers;
        var ids = new long[t];
        var positions = new long[t];
        for (int i = 0; i < t; i++) { ids[i] = tokens[i]; positions[i] = start + i; }
        var owned = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(ids, [1, t]),
            OrtValue.CreateTensorValueFromMemory(positions, [1, t]),
        };
        var inputs = new List<OrtValue>(owned);
        if (previous is null)
        {
            long[] empty = [1, _config.NumAttentionHeads, 0, _config.HeadDim];
            for (int i = 0; i < 2 * layers; i++)
            {
                OrtValue v = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, empty);
                owned.Add(v);
                inputs.Add(v);
            }
        }
        else inputs.AddRange(previous.Outputs.Skip(1));
        try
        {
            return new Step(_session!.Run(_run, _inputNames, inputs, _outputNames));
        }
        finally
        {
            foreach (OrtValue v in owned) v.Dispose();
        }
    }

    public void Dispose()
    {
        _session?.Dispose();
        _run.Dispose();
    }

    /// <summary>The outputs of one call: logits first, then the present key/value per layer.</summary>
    private sealed class Step(IDisposableReadOnlyCollection<OrtValue> outputs) : IDisposable
    {
        public IReadOnlyList<OrtValue> Outputs { get; } = outputs.ToArray();

        public int ArgMax()
        {
            ReadOnlySpan<float> logits = Outputs[0].GetTensorDataAsSpan<float>();
            int best = 0;
            for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
            return best;
        }

        public void Dispose() => outputs.Dispose();
    }
}
