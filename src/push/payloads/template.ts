import type { Notification, NotificationType } from '../push-message.js';

/** The text a person reads: one per notification type and language. */
export type Text = { title: string; body: string };
export type Template = (notification: Notification) => Text;
export type Templates = Record<NotificationType, Template>;
/** Labels of the approval actions, for Android where the app draws the buttons from the data. */
export type ActionLabels = { approve: string; deny: string };
