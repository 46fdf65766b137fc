// QuickTour: the TokenFormer.Runtime library in ten lines: load a model directory, stream generated text, score,
// train three steps and grow. Run from the repository root:
//   dotnet run -c Release --project samples/QuickTour -- tests/fixtures/library/sotu-tiny tests/fixtures/training/sotu-1790-excerpt.txt
using TokenFormer.Model.Training;
using TokenFormer.Runtime;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: QuickTour MODEL_DIRECTORY TEXT_FILE");
    return 2;
}
string text = File.ReadAllText(args[1]);

using LanguageModel lm = LanguageModel.Load(args[0]);
Console.Write("The");
await foreach (string piece in lm.GenerateAsync("The", new GenerationSettings { MaxNewTokens = 30, Seed = 1 }))
    Console.Write(piece);
Console.WriteLine();
Console.WriteLine($"perplexity: {lm.Perplexity(text):F4}");
lm.Train(text, new TrainingOptions { Steps = 3, Batch = 4, Sequence = 32, Warmup = 0 },
    step => Console.WriteLine($"step {step.Step}: loss {step.Loss:F4}"));
Console.WriteLine($"perplexity after training: {lm.Perplexity(text):F4}");
using LanguageModel grown = lm.Grow(2.0);
Console.WriteLine($"grown from {lm.Model.Parameters.Length:N0} to {grown.Model.Parameters.Length:N0} parameters; perplexity: {grown.Perplexity(text):F4}");
return 0;
