using System.CommandLine;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer serve</c> (being built; see its issue).</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var cmd = new Command("serve", "Serve a model over HTTP (OpenAI-compatible completions).");
        cmd.SetAction(new Func<ParseResult, int>(_ => throw new CliException("'serve' is not available yet")));
        return cmd;
    }
}
