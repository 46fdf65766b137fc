using TokenFormer.Cli;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary><c>tokenformer serve</c> refuses bad options and model directories with exit code 1 before listening.</summary>
public sealed class ServeCommandTests
{
    [Theory]
    [InlineData("--port", "70000")]
    [InlineData("--max-queue", "0")]
    [InlineData("--max-batch", "0")]
    [InlineData("--host", "example.com")]
    [InlineData("--max-length", "-1")]
    [InlineData("--max-connections", "0")]
    public void Bad_option_exits_with_1(string option, string value) =>
        Assert.Equal(1, CliApp.Run(["serve", "--model", TestModel.Directory, option, value]));

    [Fact]
    public void Missing_model_directory_or_tokenizer_exits_with_1()
    {
        Assert.Equal(1, CliApp.Run(["serve", "--model", Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N"))]));
        string noTokenizer = Directory.CreateTempSubdirectory("tokenformer-serve-notok-").FullName;
        try
        {
            foreach (string f in new[] { "config.json", "model.safetensors" })
                File.Copy(Path.Combine(TestModel.Directory, f), Path.Combine(noTokenizer, f));
            Assert.Equal(1, CliApp.Run(["serve", "--model", noTokenizer, "--port", "0"]));
        }
        finally
        {
            Directory.Delete(noTokenizer, recursive: true);
        }
    }
}
