// Fax statuses in plain words. The exact code is always shown on hover (title).

const WORDS = {
  success: 'Delivered',
  partially_sent: 'Partly sent',
  partially_received: 'Partly received',
  failed_internal_process_error: 'Failed: internal error',
  failed_user_busy: 'Failed: line busy',
  failed_no_answer: 'Failed: no answer',
  failed_unallocated_number: 'Failed: number does not exist',
  failed_office_converter_issue: 'Failed: document could not be converted',
  failed_separate_file_pages_issue: 'Failed: pages could not be read',
  failed_render_header_issue: 'Failed: cover page or header',
  failed_invalid_number_format: 'Failed: not a valid fax number',
  failed_mimetype_not_supported: 'Failed: file type not supported',
  failed_destination_not_supported: 'Failed: destination not allowed',
  failed_image_preparation: 'Failed: image could not be prepared',
  failed_to_send: 'Failed: call could not be placed',
  failed_normal_temporary_failure: 'Failed: network problem',
  failed_unknown_converter_issue: 'Failed: document could not be converted',
  failed_normal_clearing: 'Failed: far end hung up',
  failed_convert_to_tiff_issue: 'Failed: pages could not be rendered',
  failed_fs_49: 'Failed: call dropped',
  failed_fs_2: 'Failed: no fax machine answered',
  failed: 'Failed',
  insufficient_credit: 'Failed: not enough credit',
  // Outbox (in progress)
  submitted: 'Waiting to convert',
  converting: 'Converting',
  scheduled_for_sending: 'Waiting to dial',
  sending: 'Sending',
};

export function statusWords(status, direction) {
  if (status === 'success' && direction === 'incoming') return 'Received';
  return WORDS[status] || status.replace(/_/g, ' ');
}

export function statusKind(status) {
  if (status === 'success') return 'ok';
  if (status.startsWith('partially')) return 'warn';
  if (status.startsWith('failed') || status.includes('insufficient')) return 'bad';
  return 'busy';
}

export const isFinal = (status) => !(status in {submitted: 1, converting: 1,
  scheduled_for_sending: 1, sending: 1});
