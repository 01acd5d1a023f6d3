import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Every typed search attribute the platform sets on its workflows. Workflow code imports these keys, and
 * the dev server / ensureSearchAttributes register exactly this list, so the two can never drift apart.
 */
export const CampaignId = defineSearchAttributeKey('CampaignId', SearchAttributeType.KEYWORD);
export const CampaignStatus = defineSearchAttributeKey('CampaignStatus', SearchAttributeType.KEYWORD);
export const StoreId = defineSearchAttributeKey('StoreId', SearchAttributeType.KEYWORD);
export const OrderId = defineSearchAttributeKey('OrderId', SearchAttributeType.KEYWORD);
export const DropId = defineSearchAttributeKey('DropId', SearchAttributeType.KEYWORD);
export const CustomerId = defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD);
export const Status = defineSearchAttributeKey('Status', SearchAttributeType.KEYWORD);
export const ProviderId = defineSearchAttributeKey('ProviderId', SearchAttributeType.KEYWORD);
export const SellerId = defineSearchAttributeKey('SellerId', SearchAttributeType.KEYWORD);
export const InvoiceId = defineSearchAttributeKey('InvoiceId', SearchAttributeType.KEYWORD);

export const platformSearchAttributes = [CampaignId, CampaignStatus, StoreId, OrderId, DropId, CustomerId, Status, ProviderId, SellerId, InvoiceId];
