using System.CommandLine;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer generate</c> (being built; see its issue).</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var cmd = new Command("generate", "Generate text with a model.");
        cmd.SetAction(new Func<ParseResult, int>(_ => throw new CliException("'generate' is not available yet")));
        return cmd;
    }
}
