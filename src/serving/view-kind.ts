// Which merged view the serving layer serves.

export const MERGE_VIEWS = ['exact', 'window'] as const;
/** exact: batch view + realtime view since its watermark. window: the original demo's batch view + current 60 s window. */
export type MergeViewKind = (typeof MERGE_VIEWS)[number];
