package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven/xet/convert"
)

func xetConvertCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "xet-convert",
		Short: "Queue the conversion to Xet of every LFS object not stored through Xet yet",
		Long: "Queues, on the work queue, the conversion of every stored LFS object that Xet clients cannot yet\n" +
			"download chunk by chunk: objects stored before conversions existed, or through mirrors and imports.\n" +
			"A running `haven serve` (with --xet and --xet-convert) does the conversions.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStores(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer st.meta.Close()
			n, err := convert.New(convert.Config{Meta: st.meta, Blobs: st.blobs}).Backfill(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "queued %d conversions\n", n)
			return nil
		},
	}
}
