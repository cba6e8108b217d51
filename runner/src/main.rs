//! The `runner` binary: parses the command line, runs the build, prints the whole error chain
//! and exits with the documented code (0 built, 1 step failed, 2 usage/plan/engine error,
//! 130 interrupted).

use clap::Parser;

fn main() {
    // First: from here on SIGINT, SIGTERM, SIGHUP and the other catchable signals that would end
    // the process stop the build cleanly instead of killing it (`signals.rs`).
    let early = match runner::signals::Signals::early() {
        Ok(early) => early,
        Err(e) => {
            eprintln!("error: cannot install the signal handlers: {e}");
            std::process::exit(2);
        }
    };
    let cli = runner::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = match runtime.block_on(runner::cli::run(cli, early)) {
        Ok(code) => code,
        Err(e) => {
            let code = e.exit_code();
            runner::progress::stderr_line(format_args!("error: {}", runner::error::chain_text(&e)));
            code
        }
    };
    std::process::exit(code);
}
