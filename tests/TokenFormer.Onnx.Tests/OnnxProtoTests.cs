using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TokenFormer.Model.Export.Onnx;

namespace TokenFormer.Onnx.Tests;

/// <summary>
/// The hand-written ONNX protobuf writer (<see cref="OnnxModel"/>) read back by ONNX Runtime: a graph with a float
/// initializer, a symbolic batch dimension, int, float and ints attributes, run and compared with the same computation
/// in C#. (The first piece of issue 19's export; the decoder graph itself is not written yet.)
/// </summary>
public sealed class OnnxProtoTests
{
    [Fact]
    public void A_written_graph_loads_and_runs_in_onnx_runtime()
    {
        const int rows = 3, dIn = 4, dOut = 5;
        float[] w = Enumerable.Range(0, dIn * dOut).Select(i => MathF.Sin(i * 0.7f)).ToArray();
        var model = new OnnxModel { GraphName = "check" };
        model.Initializers.Add(OnnxTensor.Floats("w", [dIn, dOut], w));
        model.Inputs.Add(new OnnxValue("x", OnnxType.Float, ["rows", dIn]));
        model.Outputs.Add(new OnnxValue("y", OnnxType.Float, [dOut, "rows"]));
        model.Outputs.Add(new OnnxValue("s", OnnxType.Float, ["rows", 1]));
        model.Nodes.Add(new OnnxNode("MatMul", ["x", "w"], ["a"]));
        model.Nodes.Add(new OnnxNode("Transpose", ["a"], ["at"], [new OnnxAttribute("perm", Ints: [1, 0])]));
        model.Nodes.Add(new OnnxNode("Erf", ["at"], ["y"]));
        // ReduceSum (opset 13+) takes its axes as an input: the row sums of a, then LeakyRelu with a float attribute.
        model.Initializers.Add(OnnxTensor.Longs("axes", [1], [1]));
        model.Nodes.Add(new OnnxNode("ReduceSum", ["a", "axes"], ["s0"], [new OnnxAttribute("keepdims", Int: 1)]));
        model.Nodes.Add(new OnnxNode("LeakyRelu", ["s0"], ["s"], [new OnnxAttribute("alpha", Float: 0.25f)]));

        float[] x = Enumerable.Range(0, rows * dIn).Select(i => (i % 7 - 3) * 0.3f).ToArray();
        using var session = new InferenceSession(model.ToBytes());
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results =
            session.Run([NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, [rows, dIn]))]);
        float[] y = results.First(r => r.Name == "y").AsEnumerable<float>().ToArray();
        float[] s = results.First(r => r.Name == "s").AsEnumerable<float>().ToArray();

        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int o = 0; o < dOut; o++)
            {
                double a = 0;
                for (int i = 0; i < dIn; i++) a += x[r * dIn + i] * w[i * dOut + o];
                sum += a;
                Assert.Equal(Erf(a), y[o * rows + r], 1e-5);
            }
            Assert.Equal(sum >= 0 ? sum : 0.25 * sum, s[r], 1e-5);
        }
    }

    [Fact]
    public void Save_writes_through_a_temporary_file()
    {
        string dir = Directory.CreateTempSubdirectory("tokenformer-onnx-").FullName;
        try
        {
            var model = new OnnxModel { GraphName = "id" };
            model.Inputs.Add(new OnnxValue("x", OnnxType.Float, [2]));
            model.Outputs.Add(new OnnxValue("y", OnnxType.Float, [2]));
            model.Nodes.Add(new OnnxNode("Identity", ["x"], ["y"]));
            string path = Path.Combine(dir, "m.onnx");
            model.Save(path);
            Assert.Equal(model.ToBytes(), File.ReadAllBytes(path));
            Assert.Equal(["m.onnx"], Directory.GetFiles(dir).Select(Path.GetFileName));
            using var session = new InferenceSession(path);
            Assert.Equal("x", session.InputMetadata.Keys.Single());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // erf to double precision by its Maclaurin series (|x| stays below 2 here, where 60 terms are exact to double).
    private static double Erf(double x)
    {
        double t = Math.Abs(x), sum = t, term = t;
        for (int n = 1; n < 60; n++)
        {
            term *= -t * t / n;
            sum += term / (2 * n + 1);
        }
        double e = 2 / Math.Sqrt(Math.PI) * sum;
        return x < 0 ? -e : e;
    }
}
